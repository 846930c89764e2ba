// Loop helpers for the hot kernels of core/ops (internal).
//
// Sums, written so that the compiler vectorizes them. A loop `s += v[i]` is one chain of dependent additions that the compiler may not reorder
// (floating-point addition is not associative), so it runs one element per add latency.
// `#pragma omp simd reduction` allows the reordering: the compiler keeps one partial sum per
// SIMD lane. Each chunk of kChunk elements is summed that way in float (a lane adds up at most
// kChunk / 4 values, so its rounding error stays near float epsilon), and the chunk sums are
// added in double, in order: sums of millions of floats stay accurate to float precision, and
// the result depends only on the data and the build, never on the thread count.
#pragma once

#include <algorithm>
#include <cstdint>

namespace bnlab::detail {

inline constexpr int64_t kChunk = 64;

struct TwoSums {
    double first = 0, second = 0;
};

// The same with u_i = u_at(i), any elementwise expression the compiler can inline (BatchNorm +
// ReLU's backward: u_i = dy_i where the output was positive, else 0).
template <class U>
TwoSums sum_products_of(U u_at, const float* b, float b_shift, int64_t n) {
    TwoSums s;
    for (int64_t start = 0; start < n; start += kChunk) {
        const int64_t end = std::min(start + kChunk, n);
        float first = 0.0f, second = 0.0f;
#pragma omp simd reduction(+ : first, second)
        for (int64_t i = start; i < end; ++i) {
            const float u = u_at(i), v = b[i] - b_shift;
            first += u;
            second += u * v;
        }
        s.first += first;
        s.second += second;
    }
    return s;
}

// first = sum of u_i, second = sum of u_i * v_i over i in [0, n), where
// u_i = a[i] - a_shift and v_i = b[i] - b_shift.
// BatchNorm statistics: a = b = x, shifts = a sample value: sum (x-k), sum (x-k)^2.
// BatchNorm backward: a = dy, b = x, b_shift = mean: sum dy, sum dy (x - mean).
inline TwoSums sum_products(const float* a, float a_shift, const float* b, float b_shift, int64_t n) {
    return sum_products_of([a, a_shift](int64_t i) { return a[i] - a_shift; }, b, b_shift, n);
}

// sum_products(v, shift, v, shift, n): sum (v - shift) and sum (v - shift)^2, BatchNorm's
// shifted statistics. One compiled copy (batch_norm.cpp) for BatchNorm and conv2d's output
// sums (ChannelSums), so that both give the same bits.
TwoSums shifted_sums(const float* v, float shift, int64_t n);

// The sum of v[0..n).
inline double sum(const float* v, int64_t n) {
    double s = 0.0;
    for (int64_t start = 0; start < n; start += kChunk) {
        const int64_t end = std::min(start + kChunk, n);
        float chunk = 0.0f;
#pragma omp simd reduction(+ : chunk)
        for (int64_t i = start; i < end; ++i) chunk += v[i];
        s += chunk;
    }
    return s;
}

// Channel tensors (N, C, S): the work of channels [c_begin, c_end) in blocks of at most
// kChannelBlock channels, whose per-channel results fit in arrays on the stack.
inline constexpr int64_t kChannelBlock = 64;

// Calls f(c, row) for every row (n, c) of channels [c_begin, c_end), row = (n*C + c)*S its
// first element, in memory order. Channel by channel would be cache-hostile: one channel's
// rows sit C*S floats apart, usually a power of two, so they all map to the same few cache
// sets (measured: a second pass over a 512 KB channel missed the 1 MB L2 entirely).
template <class F>
void for_rows(int64_t N, int64_t C, int64_t S, int64_t c_begin, int64_t c_end, F&& f) {
    for (int64_t n = 0; n < N; ++n)
        for (int64_t c = c_begin; c < c_end; ++c) f(c, (n * C + c) * S);
}

}  // namespace bnlab::detail
