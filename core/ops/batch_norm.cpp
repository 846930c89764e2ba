// Batch normalization (Ioffe & Szegedy 2015), fused: one pass for the statistics and one for
// the output in forward, one for the two channel sums and one for dx in backward. Each pass
// reads x in memory order over a block of channels (see for_rows).
//
// x: (N,C,*) viewed as (N, C, S), S = product of the trailing dims; per channel c the
// statistics run over the M = N*S values x[n,c,s].
// Training:  mu = (1/M) sum x;  var = (1/M) sum (x - mu)^2 (biased);  rstd = 1/sqrt(var + eps)
//            xhat = (x - mu) * rstd;  y = gamma * xhat + beta
//            running_mean = (1-m) running_mean + m mu
//            running_var  = (1-m) running_var  + m var * M/(M-1)   (unbiased, as PyTorch)
// Eval:      the same with mu, var := running_mean, running_var; nothing is updated.
// Backward (training), per channel:
//   dbeta = sum dy;  dgamma = sum dy * xhat
//   dx = (gamma * rstd / M) * (M dy - sum dy - xhat * sum(dy * xhat))
// That is the full chain rule through mu and var. Some derivations (darknet's
// batchnorm_layer.c, see pjreddie/darknet#1723) carry an extra dL/dvar * sum(-2(x-mu))/M
// term in dL/dmu; it is identically zero because sum(x - mu) = 0, so it is left out.
// Backward (eval): mu and rstd are constants, so dx = dy * gamma * rstd.
//
// To learn BN, read batch_norm_reference.cpp first (the same math in plain loops, with the
// chain rule through mu and var term by term; the tests check this kernel against it), then
// batch_norm_composed.cpp (BN built from small ops, the backward derived by the tape).
#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"
#include "core/ops.h"
#include "core/ops/batch_norm_checks.h"
#include "core/ops/loops.h"
#include "core/parallel.h"
#include "core/profiler.h"
#include "core/tape.h"

namespace bnlab {

namespace {

using detail::for_rows, detail::kChannelBlock, detail::sum_products, detail::TwoSums;

// Defined below the op, so that the file reads forward, then backward, then helpers.
void batch_norm_backward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& stats,
                         bool use_batch_stats, int64_t N, int64_t C, int64_t S, int64_t M, const Tensor& gy);

}  // namespace

Tensor batch_norm(const Tensor& x, Tensor running_mean, Tensor running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
    const ProfileScope profile("batch_norm");
    const detail::BatchNormDims dims =
        detail::check_batch_norm_args("batch_norm", x, running_mean, running_var, weight, bias, momentum);
    const int64_t N = dims.N, C = dims.C, S = dims.S, M = dims.M;
    const bool use_batch_stats = training || !running_mean.defined();
    if (!training && !running_mean.defined())
        throw Error("batch_norm: evaluation mode needs running_mean and running_var (or train with batch statistics)");
    if (use_batch_stats && M <= 1)
        throw ShapeError("batch_norm: expected more than 1 value per channel when training, got input size " +
                         x.shape().str());

    // Per channel: the mean and 1/sqrt(var + eps) used, row 0 and row 1 (saved for backward).
    Tensor stats = Tensor::empty({2, C});
    Tensor y = Tensor::empty(x.shape());
    const float* px = x.data();
    float* py = y.data();
    float* mean = stats.data();
    float* rstd = stats.data() + C;
    const float* gamma = weight.defined() ? weight.data() : nullptr;
    const float* beta = bias.defined() ? bias.data() : nullptr;
    float* rmean = running_mean.defined() ? running_mean.data() : nullptr;
    float* rvar = running_var.defined() ? running_var.data() : nullptr;

    // Threads take whole channels, in blocks of kChannelBlock. (Smaller blocks, sized to stay
    // in cache between the two passes, measured slower: many short streams, and the rows of a
    // few channels still share few cache sets.)
    parallel_for(C, 2 * M, [&](int64_t c_begin, int64_t c_end) {
        for (int64_t cb = c_begin; cb < c_end; cb += kChannelBlock) {
            const int64_t ce = std::min(cb + kChannelBlock, c_end);
            TwoSums sums[kChannelBlock];
            float scale[kChannelBlock], offset[kChannelBlock];
            // Shifted sums: subtracting a sample value first keeps E[(x-k)^2] - E[x-k]^2
            // accurate even when |mean| >> std.
            if (use_batch_stats)
                for_rows(N, C, S, cb, ce, [&](int64_t c, int64_t row) {
                    const float shift = px[c * S];
                    const TwoSums r = sum_products(px + row, shift, px + row, shift, S);
                    sums[c - cb].first += r.first;
                    sums[c - cb].second += r.second;
                });
            for (int64_t c = cb; c < ce; ++c) {
                double mu = rmean ? rmean[c] : 0.0, var = rvar ? rvar[c] : 1.0;
                if (use_batch_stats) {
                    const double m1 = sums[c - cb].first / static_cast<double>(M);
                    mu = px[c * S] + m1;
                    var = std::max(sums[c - cb].second / static_cast<double>(M) - m1 * m1, 0.0);
                    if (training && rmean) {
                        rmean[c] = static_cast<float>((1.0 - momentum) * rmean[c] + momentum * mu);
                        rvar[c] = static_cast<float>((1.0 - momentum) * rvar[c] + momentum * var * static_cast<double>(M) /
                                                                                  static_cast<double>(M - 1));
                    }
                }
                const double rs = 1.0 / std::sqrt(var + eps);
                mean[c] = static_cast<float>(mu);
                rstd[c] = static_cast<float>(rs);
                // y = gamma (x - mu) rstd + beta = x * scale + offset
                scale[c - cb] = static_cast<float>((gamma ? gamma[c] : 1.0f) * rs);
                offset[c - cb] = static_cast<float>((beta ? beta[c] : 0.0f) - mu * scale[c - cb]);
            }
            for_rows(N, C, S, cb, ce, [&](int64_t c, int64_t row) {
                const float a = scale[c - cb], b = offset[c - cb];
                for (int64_t s = 0; s < S; ++s) py[row + s] = px[row + s] * a + b;
            });
        }
    });

    if (Tape* tape = recording_tape({&x, &weight, &bias})) {
        tape->record("batch_norm", {x, weight, bias}, y,
                     [x, weight, bias, stats, use_batch_stats, N, C, S, M](const Tensor& gy) {
                         batch_norm_backward(x, weight, bias, stats, use_batch_stats, N, C, S, M, gy);
                     });
    }
    return y;
}

namespace {

// dbeta = sum dy;  dgamma = sum dy * xhat;  dx = k (dy - mean(dy) - xhat mean(dy xhat)), k = gamma rstd
// (with running statistics: dx = k dy). stats: the mean and rstd forward used, (2, C).
void batch_norm_backward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& stats,
                         bool use_batch_stats, int64_t N, int64_t C, int64_t S, int64_t M, const Tensor& gy) {
    const float* xv = x.data();
    const float* g = gy.data();
    const GradTarget gx = x.requires_grad() ? grad_target(x) : GradTarget{nullptr, false};
    float* ggamma = weight.defined() && weight.requires_grad() ? grad_buffer(weight) : nullptr;
    float* gbeta = bias.defined() && bias.requires_grad() ? grad_buffer(bias) : nullptr;
    const float* w = weight.defined() ? weight.data() : nullptr;
    const float* mean = stats.data();
    const float* rstd = stats.data() + C;
    const double inv_m = 1.0 / static_cast<double>(M);
    parallel_for(C, 3 * M, [&](int64_t c_begin, int64_t c_end) {
        for (int64_t cb = c_begin; cb < c_end; cb += kChannelBlock) {
            const int64_t ce = std::min(cb + kChannelBlock, c_end);
            // sum dy and sum dy (x - mu); times rstd the latter is sum dy xhat
            TwoSums sums[kChannelBlock];
            for_rows(N, C, S, cb, ce, [&](int64_t c, int64_t row) {
                const TwoSums r = sum_products(g + row, 0.0f, xv + row, mean[c], S);
                sums[c - cb].first += r.first;
                sums[c - cb].second += r.second;
            });
            float k[kChannelBlock], mean_dy[kChannelBlock], mean_dy_xhat[kChannelBlock];
            for (int64_t c = cb; c < ce; ++c) {
                const double sum_dy = sums[c - cb].first, sum_dy_xhat = sums[c - cb].second * rstd[c];
                if (ggamma) ggamma[c] += static_cast<float>(sum_dy_xhat);
                if (gbeta) gbeta[c] += static_cast<float>(sum_dy);
                k[c - cb] = (w ? w[c] : 1.0f) * rstd[c];
                mean_dy[c - cb] = use_batch_stats ? static_cast<float>(sum_dy * inv_m) : 0.0f;
                mean_dy_xhat[c - cb] = use_batch_stats ? static_cast<float>(sum_dy_xhat * inv_m) : 0.0f;
            }
            if (!gx.data) continue;
            for_rows(N, C, S, cb, ce, [&](int64_t c, int64_t row) {
                const float mu = mean[c], rs = rstd[c], kc = k[c - cb], m1 = mean_dy[c - cb], m2 = mean_dy_xhat[c - cb];
                const float* xc = xv + row;
                const float* gc = g + row;
                store_grad(gx.data + row, gx.accumulate, S, [&](int64_t s) {
                    const float xhat = (xc[s] - mu) * rs;
                    return kc * (gc[s] - m1 - xhat * m2);
                });
            });
        }
    });
}

// ShapeError unless t is undefined or a (C) vector.
void check_channel_vector(const char* op, const char* what, const Tensor& t, int64_t C, const Tensor& x) {
    if (t.defined() && (t.ndim() != 1 || t.dim(0) != C))
        throw ShapeError(std::string(op) + ": " + what + " " + t.shape().str() + " does not match input " +
                         x.shape().str() + " with " + std::to_string(C) + " channels");
}

}  // namespace

detail::BatchNormDims detail::check_batch_norm_args(const char* op, const Tensor& x, const Tensor& running_mean,
                                                    const Tensor& running_var, const Tensor& weight,
                                                    const Tensor& bias, double momentum) {
    if (x.ndim() < 2) throw ShapeError(std::string(op) + ": input must be (N,C,...), got " + x.shape().str());
    const int64_t N = x.dim(0), C = x.dim(1), S = x.numel() / std::max<int64_t>(N * C, 1);
    check_channel_vector(op, "weight", weight, C, x);
    check_channel_vector(op, "bias", bias, C, x);
    check_channel_vector(op, "running_mean", running_mean, C, x);
    check_channel_vector(op, "running_var", running_var, C, x);
    if (running_mean.defined() != running_var.defined())
        throw Error(std::string(op) + ": running_mean and running_var must both be given or both be absent");
    if (!(momentum >= 0.0 && momentum <= 1.0))
        throw Error(std::string(op) + ": momentum must be in [0, 1], got " + std::to_string(momentum));
    return {N, C, S, N * S};
}

}  // namespace bnlab
