// conv2d as im2col + one sgemm over the whole batch.
//
// x: (N,C,H,W), weight: (F,C,kh,kw) -> y: (N,F,Ho,Wo), Ho = (H + 2p - kh)/s + 1, P = Ho*Wo.
// im2col lays every receptive field out as a column: cols (K, N*P) with K = C*kh*kw,
//   cols[(c*kh + i)*kw + j][n*P + oh*Wo + ow] = x[n, c, oh*s - p + i, ow*s - p + j] (0 outside).
// Then the convolution is one matrix product: Y (F, N*P) = weight (F,K) cols (K, N*P),
// and y[n,f,:] = Y[f, n*P : (n+1)*P] + bias[f].
// Backward, with dY (F, N*P) the output gradient in the same layout:
//   dweight (F,K) += dY cols^T;  dcols (K, N*P) = weight^T dY, then col2im adds dcols back
//   onto the pixels they were copied from;  dbias[f] += sum of dY[f, :].
// cols is rebuilt in backward instead of saved: it is kh*kw times the size of x.
#include <algorithm>
#include <cstring>
#include <string>

#include "core/error.h"
#include "core/ops.h"
#include "core/ops/blas.h"
#include "core/profiler.h"
#include "core/tape.h"

namespace bnlab {

namespace {

struct ConvGeometry {
    int64_t N, C, H, W, F, kh, kw, stride, pad, Ho, Wo;
    int64_t P() const { return Ho * Wo; }
    int64_t K() const { return C * kh * kw; }
};

// x (N,C,H,W) -> cols (K, N*P)
void im2col(const ConvGeometry& g, const float* x, float* cols) {
    const int64_t P = g.P(), NP = g.N * P;
#pragma omp parallel for schedule(static)
    for (int64_t row = 0; row < g.K(); ++row) {
        const int64_t c = row / (g.kh * g.kw), i = (row / g.kw) % g.kh, j = row % g.kw;
        float* out = cols + row * NP;
        for (int64_t n = 0; n < g.N; ++n) {
            const float* plane = x + (n * g.C + c) * g.H * g.W;
            for (int64_t oh = 0; oh < g.Ho; ++oh) {
                const int64_t h = oh * g.stride - g.pad + i;
                float* dst = out + n * P + oh * g.Wo;
                if (h < 0 || h >= g.H) {
                    std::fill_n(dst, g.Wo, 0.0f);
                    continue;
                }
                const float* src = plane + h * g.W;
                for (int64_t ow = 0; ow < g.Wo; ++ow) {
                    const int64_t w = ow * g.stride - g.pad + j;
                    dst[ow] = (w >= 0 && w < g.W) ? src[w] : 0.0f;
                }
            }
        }
    }
}

// dcols (K, N*P) -> dx (N,C,H,W) += each column entry onto the pixel it came from.
// Parallel over channels: rows of one channel only touch that channel's planes.
void col2im_add(const ConvGeometry& g, const float* dcols, float* dx) {
    const int64_t P = g.P(), NP = g.N * P, rows_per_channel = g.kh * g.kw;
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < g.C; ++c) {
        for (int64_t r = 0; r < rows_per_channel; ++r) {
            const int64_t i = r / g.kw, j = r % g.kw;
            const float* in = dcols + (c * rows_per_channel + r) * NP;
            for (int64_t n = 0; n < g.N; ++n) {
                float* plane = dx + (n * g.C + c) * g.H * g.W;
                for (int64_t oh = 0; oh < g.Ho; ++oh) {
                    const int64_t h = oh * g.stride - g.pad + i;
                    if (h < 0 || h >= g.H) continue;
                    const float* src = in + n * P + oh * g.Wo;
                    float* dst = plane + h * g.W;
                    for (int64_t ow = 0; ow < g.Wo; ++ow) {
                        const int64_t w = ow * g.stride - g.pad + j;
                        if (w >= 0 && w < g.W) dst[w] += src[ow];
                    }
                }
            }
        }
    }
}

ConvGeometry conv_geometry(const Tensor& x, const Tensor& weight, const Tensor& bias, int stride, int padding) {
    const auto shapes = [&] { return "input " + x.shape().str() + ", weight " + weight.shape().str(); };
    if (x.ndim() != 4) throw ShapeError("conv2d: input must be (N,C,H,W), got " + x.shape().str());
    if (weight.ndim() != 4) throw ShapeError("conv2d: weight must be (F,C,kh,kw), got " + weight.shape().str());
    if (x.dim(1) != weight.dim(1))
        throw ShapeError("conv2d: " + shapes() + ": input has " + std::to_string(x.dim(1)) +
                         " channels, weight expects " + std::to_string(weight.dim(1)));
    if (stride < 1 || padding < 0)
        throw ShapeError("conv2d: stride must be >= 1 and padding >= 0, got stride " + std::to_string(stride) +
                         ", padding " + std::to_string(padding));
    if (bias.defined() && (bias.ndim() != 1 || bias.dim(0) != weight.dim(0)))
        throw ShapeError("conv2d: bias " + bias.shape().str() + " does not match weight " + weight.shape().str());
    ConvGeometry g{x.dim(0), x.dim(1), x.dim(2), x.dim(3), weight.dim(0), weight.dim(2), weight.dim(3),
                   stride, padding, 0, 0};
    if (g.H + 2 * g.pad < g.kh || g.W + 2 * g.pad < g.kw)
        throw ShapeError("conv2d: " + shapes() + ": kernel larger than the padded input");
    g.Ho = (g.H + 2 * g.pad - g.kh) / g.stride + 1;
    g.Wo = (g.W + 2 * g.pad - g.kw) / g.stride + 1;
    return g;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int stride, int padding) {
    const ProfileScope profile("conv2d");
    const ConvGeometry g = conv_geometry(x, weight, bias, stride, padding);
    const int64_t P = g.P(), NP = g.N * P, K = g.K();

    Tensor cols = Tensor::empty({K, NP});
    im2col(g, x.data(), cols.data());
    Tensor product = Tensor::empty({g.F, NP});  // Y (F, N*P)
    detail::gemm(false, false, g.F, NP, K, 1.0f, weight.data(), cols.data(), 0.0f, product.data());

    // (F, N, P) -> (N, F, P), adding the bias on the way.
    Tensor y = Tensor::empty({g.N, g.F, g.Ho, g.Wo});
    float* py = y.data();
    const float* pp = product.data();
#pragma omp parallel for schedule(static)
    for (int64_t f = 0; f < g.F; ++f) {
        const float b = bias.defined() ? bias.data()[f] : 0.0f;
        for (int64_t n = 0; n < g.N; ++n) {
            const float* src = pp + f * NP + n * P;
            float* dst = py + (n * g.F + f) * P;
            for (int64_t p = 0; p < P; ++p) dst[p] = src[p] + b;
        }
    }

    if (Tape* tape = recording_tape({&x, &weight, &bias})) {
        tape->record("conv2d", {x, weight, bias}, y, [x, weight, bias, g](const Tensor& gy) {
            const int64_t P = g.P(), NP = g.N * P, K = g.K();
            // dY: (N, F, P) -> (F, N*P), the layout of the forward product.
            Tensor dY = Tensor::empty({g.F, NP});
            const float* pg = gy.data();
            float* pd = dY.data();
#pragma omp parallel for schedule(static)
            for (int64_t f = 0; f < g.F; ++f)
                for (int64_t n = 0; n < g.N; ++n)
                    std::memcpy(pd + f * NP + n * P, pg + (n * g.F + f) * P, static_cast<size_t>(P) * sizeof(float));

            if (bias.defined() && bias.requires_grad()) {
                float* gb = grad_buffer(bias);
                for (int64_t f = 0; f < g.F; ++f) {
                    double total = 0.0;
                    for (int64_t i = 0; i < NP; ++i) total += pd[f * NP + i];
                    gb[f] += static_cast<float>(total);
                }
            }
            if (weight.requires_grad() || x.requires_grad()) {
                Tensor cols = Tensor::empty({K, NP});
                if (weight.requires_grad()) {
                    im2col(g, x.data(), cols.data());
                    detail::gemm(false, true, g.F, K, NP, 1.0f, pd, cols.data(), 1.0f, grad_buffer(weight));
                }
                if (x.requires_grad()) {
                    float* dcols = cols.data();  // reuse the buffer: cols is no longer needed
                    detail::gemm(true, false, K, NP, g.F, 1.0f, weight.data(), pd, 0.0f, dcols);
                    col2im_add(g, dcols, grad_buffer(x));
                }
            }
        });
    }
    return y;
}

}  // namespace bnlab
