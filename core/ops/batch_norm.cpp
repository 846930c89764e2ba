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
// batch_norm_relu is relu(batch_norm(x)) in the same passes: y = max(gamma xhat + beta, 0), and
// in backward dy is first masked where y was not positive (dz = y > 0 ? dy : 0) and then goes
// through BN's backward. The mask is recomputed from x with the scale and offset forward used
// (saved), so backward reads dy and x exactly as BN alone does. Per activation value that is 8
// memory passes where BN and a separate ReLU make 13 (ReLU: read x, write y; read dy, read y,
// write dx). The floats are the same operations in the same order as relu(batch_norm(x)), so
// both give bit-identical results (tests/test_kernels.cpp checks it).
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

using detail::for_rows, detail::kChannelBlock, detail::sum_products, detail::sum_products_of, detail::TwoSums;

// Defined below the op, so that the file reads forward, then backward, then helpers.
struct BackwardArgs {
    bool use_batch_stats, relu;
    int64_t N, C, S, M;
};
void batch_norm_backward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& stats,
                         const BackwardArgs& a, const Tensor& gy);

// ReLU's select, as relu() writes it (NaN goes to 0 as there).
inline float relu_of(float v) { return v > 0.0f ? v : 0.0f; }

// batch_norm, followed by a ReLU when `relu` (batch_norm_relu).
Tensor batch_norm_forward(const char* op, const Tensor& x, Tensor running_mean, Tensor running_var,
                          const Tensor& weight, const Tensor& bias, bool training, double momentum, double eps,
                          bool relu) {
    const ProfileScope profile(op);
    const detail::BatchNormDims dims =
        detail::check_batch_norm_args(op, x, running_mean, running_var, weight, bias, momentum);
    const int64_t N = dims.N, C = dims.C, S = dims.S, M = dims.M;
    const bool use_batch_stats = training || !running_mean.defined();
    if (!training && !running_mean.defined())
        throw Error(std::string(op) + ": evaluation mode needs running_mean and running_var (or train with batch statistics)");
    if (use_batch_stats && M <= 1)
        throw ShapeError(std::string(op) + ": expected more than 1 value per channel when training, got input size " +
                         x.shape().str());

    // Per channel, saved for backward: the mean and 1/sqrt(var + eps) used (rows 0 and 1), and
    // the scale and offset of y = x * scale + offset (rows 2 and 3: the ReLU's mask).
    Tensor stats = Tensor::empty({4, C});
    Tensor y = Tensor::empty(x.shape());
    const float* px = x.data();
    float* py = y.data();
    float* mean = stats.data();
    float* rstd = stats.data() + C;
    float* scale = stats.data() + 2 * C;
    float* offset = stats.data() + 3 * C;
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
                scale[c] = static_cast<float>((gamma ? gamma[c] : 1.0f) * rs);
                offset[c] = static_cast<float>((beta ? beta[c] : 0.0f) - mu * scale[c]);
            }
            for_rows(N, C, S, cb, ce, [&](int64_t c, int64_t row) {
                const float a = scale[c], b = offset[c];
                if (relu)
                    for (int64_t s = 0; s < S; ++s) py[row + s] = relu_of(px[row + s] * a + b);
                else
                    for (int64_t s = 0; s < S; ++s) py[row + s] = px[row + s] * a + b;
            });
        }
    });

    if (Tape* tape = recording_tape({&x, &weight, &bias})) {
        const BackwardArgs args{use_batch_stats, relu, N, C, S, M};
        tape->record(op, {x, weight, bias}, y, [x, weight, bias, stats, args](const Tensor& gy) {
            batch_norm_backward(x, weight, bias, stats, args, gy);
        });
    }
    return y;
}

}  // namespace

Tensor batch_norm(const Tensor& x, Tensor running_mean, Tensor running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
    return batch_norm_forward("batch_norm", x, std::move(running_mean), std::move(running_var), weight, bias, training,
                              momentum, eps, false);
}

Tensor batch_norm_relu(const Tensor& x, Tensor running_mean, Tensor running_var, const Tensor& weight,
                       const Tensor& bias, bool training, double momentum, double eps) {
    return batch_norm_forward("batch_norm_relu", x, std::move(running_mean), std::move(running_var), weight, bias,
                              training, momentum, eps, true);
}

namespace {

// dbeta = sum dy;  dgamma = sum dy * xhat;  dx = k (dy - mean(dy) - xhat mean(dy xhat)), k = gamma rstd
// (with running statistics: dx = k dy). stats: what forward saved, (4, C). With the ReLU, dy
// here is the ReLU's input gradient, dz = dy where x * scale + offset > 0, else 0.
void batch_norm_backward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& stats,
                         const BackwardArgs& a, const Tensor& gy) {
    const int64_t N = a.N, C = a.C, S = a.S;
    const float* xv = x.data();
    const float* g = gy.data();
    const GradTarget gx = x.requires_grad() ? grad_target(x) : GradTarget{nullptr, false};
    float* ggamma = weight.defined() && weight.requires_grad() ? grad_buffer(weight) : nullptr;
    float* gbeta = bias.defined() && bias.requires_grad() ? grad_buffer(bias) : nullptr;
    const float* w = weight.defined() ? weight.data() : nullptr;
    const float* mean = stats.data();
    const float* rstd = stats.data() + C;
    const float* scale = stats.data() + 2 * C;
    const float* offset = stats.data() + 3 * C;
    const double inv_m = 1.0 / static_cast<double>(a.M);
    parallel_for(C, 3 * a.M, [&](int64_t c_begin, int64_t c_end) {
        for (int64_t cb = c_begin; cb < c_end; cb += kChannelBlock) {
            const int64_t ce = std::min(cb + kChannelBlock, c_end);
            // sum dy and sum dy (x - mu); times rstd the latter is sum dy xhat
            TwoSums sums[kChannelBlock];
            for_rows(N, C, S, cb, ce, [&](int64_t c, int64_t row) {
                const float* xc = xv + row;
                const float* gc = g + row;
                const float sc = scale[c], off = offset[c];
                // dz = dy where forward's y = x * scale + offset was positive (the same floats).
                // Both loads unconditional: the select then vectorizes like sum_products' loop,
                // so the sums come out in the same order as relu's gradient summed by BN alone.
                const auto dz = [&](int64_t s) {
                    const float dy = gc[s], y = xc[s] * sc + off;
                    return y > 0.0f ? dy : 0.0f;
                };
                const TwoSums r = a.relu ? sum_products_of(dz, xc, mean[c], S) : sum_products(gc, 0.0f, xc, mean[c], S);
                sums[c - cb].first += r.first;
                sums[c - cb].second += r.second;
            });
            float k[kChannelBlock], mean_dy[kChannelBlock], mean_dy_xhat[kChannelBlock];
            for (int64_t c = cb; c < ce; ++c) {
                const double sum_dy = sums[c - cb].first, sum_dy_xhat = sums[c - cb].second * rstd[c];
                if (ggamma) ggamma[c] += static_cast<float>(sum_dy_xhat);
                if (gbeta) gbeta[c] += static_cast<float>(sum_dy);
                k[c - cb] = (w ? w[c] : 1.0f) * rstd[c];
                mean_dy[c - cb] = a.use_batch_stats ? static_cast<float>(sum_dy * inv_m) : 0.0f;
                mean_dy_xhat[c - cb] = a.use_batch_stats ? static_cast<float>(sum_dy_xhat * inv_m) : 0.0f;
            }
            if (!gx.data) continue;
            for_rows(N, C, S, cb, ce, [&](int64_t c, int64_t row) {
                const float mu = mean[c], rs = rstd[c], kc = k[c - cb], m1 = mean_dy[c - cb], m2 = mean_dy_xhat[c - cb];
                const float sc = scale[c], off = offset[c];
                const float* xc = xv + row;
                const float* gc = g + row;
                const auto dx = [&](float dz, float xs) {
                    const float xhat = (xs - mu) * rs;
                    return kc * (dz - m1 - xhat * m2);
                };
                if (a.relu)
                    store_grad(gx.data + row, gx.accumulate, S, [&](int64_t s) {
                        const float dy = gc[s], y = xc[s] * sc + off;  // both loaded: a vector select
                        return dx(y > 0.0f ? dy : 0.0f, xc[s]);
                    });
                else
                    store_grad(gx.data + row, gx.accumulate, S, [&](int64_t s) { return dx(gc[s], xc[s]); });
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
