// Sums for the hot loops of core/ops (internal), written so that the compiler vectorizes them.
//
// A loop `s += v[i]` is one chain of dependent additions that the compiler may not reorder
// (floating-point addition is not associative), so it runs one element per add latency.
// These keep kLanes independent double accumulators, lane l summing the elements i = l mod
// kLanes, which the compiler maps onto SIMD registers; the lanes are added at the end in a
// fixed order. Doubles keep the sums of up to millions of floats accurate to float precision.
#pragma once

#include <cstdint>

namespace bnlab::detail {

inline constexpr int kLanes = 8;

struct TwoSums {
    double first = 0, second = 0;
};

// first = sum of u_i, second = sum of u_i * v_i over i in [0, n), where
// u_i = a[i] - a_shift and v_i = b[i] - b_shift (computed in double).
// BatchNorm statistics: a = b = x, shifts = a sample value: sum (x-k), sum (x-k)^2.
// BatchNorm backward: a = dy, b = x, b_shift = mean: sum dy, sum dy (x - mean).
inline TwoSums sum_products(const float* a, double a_shift, const float* b, double b_shift, int64_t n) {
    double first[kLanes] = {}, second[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (int l = 0; l < kLanes; ++l) {
            const double u = a[i + l] - a_shift, v = b[i + l] - b_shift;
            first[l] += u;
            second[l] += u * v;
        }
    TwoSums s;
    for (; i < n; ++i) {
        const double u = a[i] - a_shift, v = b[i] - b_shift;
        s.first += u;
        s.second += u * v;
    }
    for (int l = 0; l < kLanes; ++l) {
        s.first += first[l];
        s.second += second[l];
    }
    return s;
}

// The sum of v[0..n).
inline double sum(const float* v, int64_t n) {
    double lanes[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (int l = 0; l < kLanes; ++l) lanes[l] += v[i + l];
    double s = 0;
    for (; i < n; ++i) s += v[i];
    for (int l = 0; l < kLanes; ++l) s += lanes[l];
    return s;
}

}  // namespace bnlab::detail
