// Pooling: max_pool2d, avg_pool2d, global_avg_pool2d.
// x: (N,C,H,W) -> y: (N,C,Ho,Wo), Ho = (H + 2*pad - k)/stride + 1; each output looks at a
// k x k window starting at (oh*stride - pad, ow*stride - pad).
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "core/profiler.h"
#include "core/tape.h"

namespace bnlab {

namespace {

struct PoolGeometry {
    int64_t N, C, H, W, k, stride, pad, Ho, Wo;
    int64_t planes() const { return N * C; }
    int64_t in_plane() const { return H * W; }
    int64_t out_plane() const { return Ho * Wo; }
};

PoolGeometry pool_geometry(const char* op, const Tensor& x, int kernel, int stride, int padding) {
    if (x.ndim() != 4) throw ShapeError(std::string(op) + ": input must be (N,C,H,W), got " + x.shape().str());
    if (stride == 0) stride = kernel;
    if (kernel < 1 || stride < 1 || padding < 0 || 2 * padding > kernel)
        throw ShapeError(std::string(op) + ": need kernel >= 1, stride >= 1 and 0 <= padding <= kernel/2, got kernel " +
                         std::to_string(kernel) + ", stride " + std::to_string(stride) + ", padding " +
                         std::to_string(padding));
    PoolGeometry g{x.dim(0), x.dim(1), x.dim(2), x.dim(3), kernel, stride, padding, 0, 0};
    if (g.H + 2 * g.pad < g.k || g.W + 2 * g.pad < g.k)
        throw ShapeError(std::string(op) + ": kernel " + std::to_string(kernel) + " larger than the padded input " +
                         x.shape().str());
    if (g.H * g.W > std::numeric_limits<int32_t>::max())  // max_pool2d keeps plane indices in int32
        throw ShapeError(std::string(op) + ": image plane of " + x.shape().str() + " has more than 2^31 pixels");
    g.Ho = (g.H + 2 * g.pad - g.k) / g.stride + 1;
    g.Wo = (g.W + 2 * g.pad - g.k) / g.stride + 1;
    return g;
}

// Which element wins a window: the first NaN if there is one ("> or NaN" like PyTorch, so a
// NaN propagates instead of vanishing), else the first of the largest values.
inline bool beats(float v, float best) { return v > best || (v != v && best == best); }

// The plane index of the winner of window (oh, ow), for any stride and padding.
int64_t window_argmax(const PoolGeometry& g, const float* plane, int64_t oh, int64_t ow) {
    const int64_t h0 = oh * g.stride - g.pad, w0 = ow * g.stride - g.pad;
    const int64_t h_begin = std::max<int64_t>(h0, 0), h_end = std::min(h0 + g.k, g.H);
    const int64_t w_begin = std::max<int64_t>(w0, 0), w_end = std::min(w0 + g.k, g.W);
    int64_t best = h_begin * g.W + w_begin;
    for (int64_t h = h_begin; h < h_end; ++h)
        for (int64_t w = w_begin; w < w_end; ++w)
            if (beats(plane[h * g.W + w], plane[best])) best = h * g.W + w;
    return best;
}

constexpr int64_t kRowBlock = 64;  // outputs of one row handled together

// The winners of outputs ow0 .. ow0+n-1 (n <= kRowBlock) of row oh when the windows tile the
// image (stride == k, no padding), compared across the n windows at once: these loops have
// no unpredictable branches and vectorize (for a k known at compile time), where a window at
// a time runs at the speed of branch mispredictions. Each pass reads whole window rows
// (t*k .. t*k+k-1), so the vectorizer needs no scalar iterations to stay inside the row.
template <int kFixed>
void tiled_winners(const PoolGeometry& g, const float* plane, int64_t oh, int64_t ow0, int64_t n, int32_t* at) {
    const int64_t k = kFixed ? kFixed : g.k;
    const int64_t top = oh * k * g.W + ow0 * k;  // plane index of window ow0's top-left element
    float best[kRowBlock];
    // Window element `v` at plane index `where` against window t's best so far (selects, not jumps).
    const auto consider = [&](int64_t t, float v, int64_t where) {
        const bool win = beats(v, best[t]);
        best[t] = win ? v : best[t];
        at[t] = win ? static_cast<int32_t>(where) : at[t];
    };
    for (int64_t t = 0; t < n; ++t) {  // the windows' first rows; element (0, 0) starts
        best[t] = plane[top + t * k];
        at[t] = static_cast<int32_t>(top + t * k);
        for (int64_t j = 1; j < k; ++j) consider(t, plane[top + t * k + j], top + t * k + j);
    }
    for (int64_t i = 1; i < k; ++i) {
        const int64_t row = top + i * g.W;
        for (int64_t t = 0; t < n; ++t)
            for (int64_t j = 0; j < k; ++j) consider(t, plane[row + t * k + j], row + t * k + j);
    }
}

// Calls f(o, i) for every output o of one plane, with i the plane index of its window's winner.
template <class F>
void for_each_winner(const PoolGeometry& g, const float* plane, F&& f) {
    const bool tiled = g.stride == g.k && g.pad == 0;
    constexpr int64_t kVector = 4;  // floats per SSE register
    int32_t at[kRowBlock];
    for (int64_t oh = 0; oh < g.Ho; ++oh)
        for (int64_t ow0 = 0; ow0 < g.Wo;) {
            // Blocks of whole vectors, so that the vectorized loop never falls back to scalar
            // (branchy) iterations: a short last block becomes a vector ending at Wo, which
            // recomputes a few winners already reported; only the new ones are passed on.
            int64_t start = ow0, n = std::min(kRowBlock, g.Wo - ow0);
            if (tiled && g.Wo >= kVector && n % kVector != 0) {
                if (n > kVector) n -= n % kVector;
                else start = g.Wo - kVector, n = kVector;
            }
            if (tiled && g.k == 2) tiled_winners<2>(g, plane, oh, start, n, at);
            else if (tiled) tiled_winners<0>(g, plane, oh, start, n, at);
            else for (int64_t t = 0; t < n; ++t) at[t] = static_cast<int32_t>(window_argmax(g, plane, oh, start + t));
            for (int64_t t = ow0 - start; t < n; ++t) f(oh * g.Wo + start + t, at[t]);
            ow0 = start + n;
        }
}

}  // namespace

// y[n,c,oh,ow] = max of the window;  dx[argmax] += dy: the gradient flows only to the element
// that won. Backward finds the winners again from x instead of saving them: reading x costs
// about what writing and reading saved indices would, and needs no extra buffer.
Tensor max_pool2d(const Tensor& x, int kernel, int stride, int padding) {
    const ProfileScope profile("max_pool2d");
    const PoolGeometry g = pool_geometry("max_pool2d", x, kernel, stride, padding);
    Tensor y = Tensor::empty({g.N, g.C, g.Ho, g.Wo});
    const float* px = x.data();
    float* py = y.data();
    parallel_for(g.planes(), g.in_plane(), [&](int64_t begin, int64_t end) {
        for (int64_t plane = begin; plane < end; ++plane) {
            const float* xin = px + plane * g.in_plane();
            float* yout = py + plane * g.out_plane();
            for_each_winner(g, xin, [&](int64_t o, int64_t i) { yout[o] = xin[i]; });
        }
    });
    if (Tape* tape = recording_tape({&x})) {
        tape->record("max_pool2d", {x}, y, [x, g](const Tensor& gy) {
            const GradTarget gx = grad_target(x);
            const float* xv = x.data();
            const float* pg = gy.data();
            parallel_for(g.planes(), g.in_plane(), [&](int64_t begin, int64_t end) {
                for (int64_t plane = begin; plane < end; ++plane) {
                    const float* gout = pg + plane * g.out_plane();
                    float* gin = gx.data + plane * g.in_plane();
                    if (!gx.accumulate) std::fill_n(gin, g.in_plane(), 0.0f);
                    for_each_winner(g, xv + plane * g.in_plane(), [&](int64_t o, int64_t i) { gin[i] += gout[o]; });
                }
            });
        });
    }
    return y;
}

// y = (1/k^2) * sum of the window (zeros where it overlaps the padding);
// dx += dy / k^2 on every in-bounds element of the window.
Tensor avg_pool2d(const Tensor& x, int kernel, int stride, int padding) {
    const ProfileScope profile("avg_pool2d");
    const PoolGeometry g = pool_geometry("avg_pool2d", x, kernel, stride, padding);
    Tensor y = Tensor::empty({g.N, g.C, g.Ho, g.Wo});
    const float scale = 1.0f / static_cast<float>(g.k * g.k);
    const int64_t out_plane = g.Ho * g.Wo, in_plane = g.H * g.W;
    // Visits every (output index, input index) pair of the pooling windows.
    const auto for_each_window = [g, out_plane, in_plane](int64_t plane, auto&& f) {
        for (int64_t oh = 0; oh < g.Ho; ++oh)
            for (int64_t ow = 0; ow < g.Wo; ++ow) {
                const int64_t h0 = oh * g.stride - g.pad, w0 = ow * g.stride - g.pad;
                for (int64_t h = std::max<int64_t>(h0, 0); h < std::min(h0 + g.k, g.H); ++h)
                    for (int64_t w = std::max<int64_t>(w0, 0); w < std::min(w0 + g.k, g.W); ++w)
                        f(plane * out_plane + oh * g.Wo + ow, plane * in_plane + h * g.W + w);
            }
    };
    const float* px = x.data();
    float* py = y.data();
    y.fill(0.0f);
#pragma omp parallel for schedule(static)
    for (int64_t plane = 0; plane < g.planes(); ++plane)
        for_each_window(plane, [&](int64_t o, int64_t i) { py[o] += scale * px[i]; });

    if (Tape* tape = recording_tape({&x})) {
        tape->record("avg_pool2d", {x}, y, [x, g, scale, for_each_window](const Tensor& gy) {
            float* gx = grad_buffer(x);
            const float* pg = gy.data();
#pragma omp parallel for schedule(static)
            for (int64_t plane = 0; plane < g.planes(); ++plane)
                for_each_window(plane, [&](int64_t o, int64_t i) { gx[i] += scale * pg[o]; });
        });
    }
    return y;
}

// y[n,c] = mean over h,w of x[n,c,h,w];  dx[n,c,h,w] += dy[n,c] / (H*W)
Tensor global_avg_pool2d(const Tensor& x) {
    const ProfileScope profile("global_avg_pool2d");
    if (x.ndim() != 4) throw ShapeError("global_avg_pool2d: input must be (N,C,H,W), got " + x.shape().str());
    const int64_t planes = x.dim(0) * x.dim(1), S = x.dim(2) * x.dim(3);
    if (S == 0) throw ShapeError("global_avg_pool2d: empty image in " + x.shape().str());
    Tensor y = Tensor::empty({x.dim(0), x.dim(1)});
    const float* px = x.data();
    float* py = y.data();
    for (int64_t p = 0; p < planes; ++p) {
        double total = 0.0;
        for (int64_t s = 0; s < S; ++s) total += px[p * S + s];
        py[p] = static_cast<float>(total / static_cast<double>(S));
    }
    if (Tape* tape = recording_tape({&x})) {
        tape->record("global_avg_pool2d", {x}, y, [x, planes, S](const Tensor& gy) {
            float* gx = grad_buffer(x);
            const float* pg = gy.data();
            const float inv = 1.0f / static_cast<float>(S);
            for (int64_t p = 0; p < planes; ++p)
                for (int64_t s = 0; s < S; ++s) gx[p * S + s] += pg[p] * inv;
        });
    }
    return y;
}

}  // namespace bnlab
