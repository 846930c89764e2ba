// Pooling: max_pool2d, avg_pool2d, global_avg_pool2d.
// x: (N,C,H,W) -> y: (N,C,Ho,Wo), Ho = (H + 2*pad - k)/stride + 1; each output looks at a
// k x k window starting at (oh*stride - pad, ow*stride - pad).
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/ops.h"
#include "core/profiler.h"
#include "core/tape.h"

namespace bnlab {

namespace {

struct PoolGeometry {
    int64_t N, C, H, W, k, stride, pad, Ho, Wo;
    int64_t planes() const { return N * C; }
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
    g.Ho = (g.H + 2 * g.pad - g.k) / g.stride + 1;
    g.Wo = (g.W + 2 * g.pad - g.k) / g.stride + 1;
    return g;
}

}  // namespace

// y[n,c,oh,ow] = max of the window;  argmax (index within the H*W plane) is saved, and
// dx[argmax] += dy: the gradient flows only to the element that won.
Tensor max_pool2d(const Tensor& x, int kernel, int stride, int padding) {
    const ProfileScope profile("max_pool2d");
    const PoolGeometry g = pool_geometry("max_pool2d", x, kernel, stride, padding);
    Tensor y = Tensor::empty({g.N, g.C, g.Ho, g.Wo});
    const int64_t out_plane = g.Ho * g.Wo, in_plane = g.H * g.W;
    auto argmax = std::make_shared<std::vector<int32_t>>(static_cast<size_t>(g.planes() * out_plane));
    const float* px = x.data();
    float* py = y.data();
    int32_t* pa = argmax->data();
#pragma omp parallel for schedule(static)
    for (int64_t plane = 0; plane < g.planes(); ++plane) {
        const float* xin = px + plane * in_plane;
        for (int64_t oh = 0; oh < g.Ho; ++oh)
            for (int64_t ow = 0; ow < g.Wo; ++ow) {
                const int64_t h0 = oh * g.stride - g.pad, w0 = ow * g.stride - g.pad;
                float best = -std::numeric_limits<float>::infinity();
                int64_t best_index = -1;
                for (int64_t h = std::max<int64_t>(h0, 0); h < std::min(h0 + g.k, g.H); ++h)
                    for (int64_t w = std::max<int64_t>(w0, 0); w < std::min(w0 + g.k, g.W); ++w) {
                        const float v = xin[h * g.W + w];
                        // "> or NaN" like PyTorch: a NaN wins, so it propagates instead of vanishing.
                        if (v > best || v != v || best_index < 0) {
                            best = v;
                            best_index = h * g.W + w;
                            if (v != v) break;
                        }
                    }
                const int64_t o = plane * out_plane + oh * g.Wo + ow;
                py[o] = best;
                pa[o] = static_cast<int32_t>(best_index);
            }
    }
    if (Tape* tape = recording_tape({&x})) {
        tape->record("max_pool2d", {x}, y, [x, g, argmax](const Tensor& gy) {
            float* gx = grad_buffer(x);
            const float* pg = gy.data();
            const int32_t* idx = argmax->data();
            const int64_t out_plane = g.Ho * g.Wo, in_plane = g.H * g.W;
#pragma omp parallel for schedule(static)
            for (int64_t plane = 0; plane < g.planes(); ++plane)
                for (int64_t o = 0; o < out_plane; ++o)
                    gx[plane * in_plane + idx[plane * out_plane + o]] += pg[plane * out_plane + o];
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
