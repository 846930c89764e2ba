// Batch normalization in training mode whose statistics come from another set of samples
// than "this batch":
//   ghost_batch_norm  each sub-batch ("ghost batch", Hoffer et al. 2017) of g samples, i.e.
//                     what G = ceil(N/g) processes would see running per-rank BatchNorm;
//   sync_batch_norm   the batches of every rank of a Collective together (PyTorch's
//                     SyncBatchNorm), i.e. what one process would see with the global batch.
// Both are one engine: x (N,C,*) viewed as (N,C,S) is split along N into groups of `group_rows`
// samples (the last may be smaller; sync: one group), and each group k has its own statistics.
//
// Forward, per group k and channel c, over its M_k values (sync: over every rank's values,
// M = the sum of the ranks' counts):
//   s1 = sum x, s2 = sum x^2 (double; sync: [M, s1, s2] allreduced, 2C+1 doubles per layer)
//   mu = s1/M;  var = s2/M - mu^2 (biased);  rstd = 1/sqrt(var + eps);  y = gamma (x-mu) rstd + beta
// Each rank first sums x - k with k a sample value (as batch_norm does), then converts to
// raw sums in double: the cancellation in s2/M - mu^2 costs ~1e-16 (mu/std)^2 relative, far
// below float rounding unless |mean| > 1e5 std.
// Running statistics, updated once per call with f = momentum:
//   running_mean = (1-f) running_mean + f * mean_k(mu_k)
//   running_var  = (1-f) running_var  + f * mean_k(var_k * M_k/(M_k - 1))   (unbiased, as PyTorch)
// For ghost batches that is the average over groups of what each group's own BatchNorm would
// do; it equals data-parallel training with per-rank BN whose running buffers are averaged
// over the ranks after each step (train/distributed.h). With one group it is batch_norm's update.
// Backward, per group and channel (sync: the two sums allreduced, 2C doubles per layer):
//   dbeta = sum dy;  dgamma = sum dy * xhat      (this rank's own sums: the trainer's gradient
//                                                 allreduce adds the ranks' up, as for any weight)
//   dx = gamma rstd (dy - sum dy / M - xhat sum(dy xhat) / M)
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/collective.h"
#include "core/error.h"
#include "core/ops.h"
#include "core/ops/batch_norm_checks.h"
#include "core/ops/loops.h"
#include "core/parallel.h"
#include "core/profiler.h"
#include "core/tape.h"

namespace bnlab {

namespace {

using detail::for_rows, detail::sum_products;

// x (N,C,S) split along N into groups of `rows` samples; the last group may be smaller.
struct Groups {
    int64_t N, C, S, rows, count;
    int64_t first(int64_t g) const { return g * rows; }
    int64_t size(int64_t g) const { return std::min(rows, N - g * rows); }
    int64_t offset(int64_t g) const { return first(g) * C * S; }  // first float of group g
};

// Calls f(g, c, row) for every row (n, c) with c in [c_begin, c_end), group by group, each
// group in memory order; row is the offset of the row's first float in x.
template <class F>
void for_group_rows(const Groups& grp, int64_t c_begin, int64_t c_end, F&& f) {
    for (int64_t g = 0; g < grp.count; ++g)
        for_rows(grp.size(g), grp.C, grp.S, c_begin, c_end,
                 [&](int64_t c, int64_t row) { f(g, c, grp.offset(g) + row); });
}

// What forward saves for backward: per group and channel the mean and rstd, and each group's
// value count M_k (sync: the global count).
struct Saved {
    Tensor mean, rstd;           // (G, C)
    std::vector<double> counts;  // G
};

void grouped_backward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Saved& saved,
                      const Groups& grp, Collective* sync, const Tensor& gy);

Tensor grouped_batch_norm(const char* op, const Tensor& x, Tensor running_mean, Tensor running_var,
                          const Tensor& weight, const Tensor& bias, double momentum, double eps, int64_t group_rows,
                          Collective* sync) {
    const ProfileScope profile("batch_norm");
    const detail::BatchNormDims dims =
        detail::check_batch_norm_args(op, x, running_mean, running_var, weight, bias, momentum);
    const int64_t N = dims.N, C = dims.C, S = dims.S, M = dims.M;
    const Groups grp{N, C, S, std::max<int64_t>(group_rows, 1), N == 0 ? 0 : (N + group_rows - 1) / group_rows};
    const int64_t G = std::max<int64_t>(grp.count, 1);
    const float* px = x.data();

    // Pass 1: per (group, channel) the sums of x - k and (x - k)^2, k = the group's first value.
    std::vector<double> s1(static_cast<size_t>(G * C)), s2(static_cast<size_t>(G * C));
    parallel_for(C, M, [&](int64_t c_begin, int64_t c_end) {
        for_group_rows(grp, c_begin, c_end, [&](int64_t g, int64_t c, int64_t row) {
            const float k = px[grp.offset(g) + c * S];
            const detail::TwoSums r = sum_products(px + row, k, px + row, k, S);
            s1[g * C + c] += r.first;
            s2[g * C + c] += r.second;
        });
    });
    // Raw sums: sum x = s1 + m k, sum x^2 = s2 + 2 k s1 + m k^2 with m = the group's count.
    std::vector<double> counts(static_cast<size_t>(G));
    for (int64_t g = 0; g < grp.count; ++g) {
        const double m = static_cast<double>(grp.size(g) * S);
        counts[g] = m;
        for (int64_t c = 0; c < C; ++c) {
            const double k = px[grp.offset(g) + c * S], a = s1[g * C + c];
            s1[g * C + c] = a + m * k;
            s2[g * C + c] += 2.0 * k * a + m * k * k;
        }
    }
    if (sync) {
        // One message per layer: [count, s1 (C), s2 (C)].
        std::vector<double> message(static_cast<size_t>(2 * C + 1));
        message[0] = counts[0];
        std::copy(s1.begin(), s1.end(), message.begin() + 1);
        std::copy(s2.begin(), s2.end(), message.begin() + 1 + C);
        sync->allreduce_sum(message);
        counts[0] = message[0];
        std::copy(message.begin() + 1, message.begin() + 1 + C, s1.begin());
        std::copy(message.begin() + 1 + C, message.end(), s2.begin());
    }
    for (double m : counts)
        if (m <= 1.0)
            throw ShapeError(std::string(op) + ": expected more than 1 value per channel in every " +
                             (sync ? "synchronized batch" : "ghost batch") + ", got input size " + x.shape().str() +
                             (sync ? "" : " in ghost batches of " + std::to_string(grp.rows)));

    Saved saved{Tensor::empty({G, C}), Tensor::empty({G, C}), counts};
    std::vector<float> scale(static_cast<size_t>(G * C)), offset(static_cast<size_t>(G * C));
    const float* gamma = weight.defined() ? weight.data() : nullptr;
    const float* beta = bias.defined() ? bias.data() : nullptr;
    for (int64_t c = 0; c < C; ++c) {
        double mean_mu = 0.0, mean_unbiased = 0.0;
        for (int64_t g = 0; g < G; ++g) {
            const double m = counts[g], mu = s1[g * C + c] / m, var = std::max(s2[g * C + c] / m - mu * mu, 0.0);
            const double rs = 1.0 / std::sqrt(var + eps);
            saved.mean.data()[g * C + c] = static_cast<float>(mu);
            saved.rstd.data()[g * C + c] = static_cast<float>(rs);
            scale[g * C + c] = static_cast<float>((gamma ? gamma[c] : 1.0f) * rs);
            offset[g * C + c] = static_cast<float>((beta ? beta[c] : 0.0f) - mu * scale[g * C + c]);
            mean_mu += mu / static_cast<double>(G);
            mean_unbiased += var * m / (m - 1.0) / static_cast<double>(G);
        }
        if (running_mean.defined()) {
            float& rm = running_mean.data()[c];
            float& rv = running_var.data()[c];
            rm = static_cast<float>((1.0 - momentum) * rm + momentum * mean_mu);
            rv = static_cast<float>((1.0 - momentum) * rv + momentum * mean_unbiased);
        }
    }

    // Pass 2: y = x * scale + offset per (group, channel).
    Tensor y = Tensor::empty(x.shape());
    float* py = y.data();
    parallel_for(C, M, [&](int64_t c_begin, int64_t c_end) {
        for_group_rows(grp, c_begin, c_end, [&](int64_t g, int64_t c, int64_t row) {
            const float a = scale[g * C + c], b = offset[g * C + c];
            for (int64_t s = 0; s < S; ++s) py[row + s] = px[row + s] * a + b;
        });
    });

    if (Tape* tape = recording_tape({&x, &weight, &bias}))
        tape->record(op, {x, weight, bias}, y, [x, weight, bias, saved, grp, sync](const Tensor& gy) {
            grouped_backward(x, weight, bias, saved, grp, sync, gy);
        });
    return y;
}

void grouped_backward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Saved& saved,
                      const Groups& grp, Collective* sync, const Tensor& gy) {
    const int64_t C = grp.C, S = grp.S, G = saved.mean.dim(0);
    const float* px = x.data();
    const float* g = gy.data();
    const float* mean = saved.mean.data();
    const float* rstd = saved.rstd.data();
    // Per (group, channel): sum dy and sum dy (x - mu); times rstd the latter is sum dy xhat.
    std::vector<double> sum_dy(static_cast<size_t>(G * C)), sum_dy_xhat(static_cast<size_t>(G * C));
    parallel_for(C, 2 * grp.N * S, [&](int64_t c_begin, int64_t c_end) {
        for_group_rows(grp, c_begin, c_end, [&](int64_t k, int64_t c, int64_t row) {
            const detail::TwoSums r = sum_products(g + row, 0.0f, px + row, mean[k * C + c], S);
            sum_dy[k * C + c] += r.first;
            sum_dy_xhat[k * C + c] += r.second * rstd[k * C + c];
        });
    });
    float* ggamma = weight.defined() && weight.requires_grad() ? grad_buffer(weight) : nullptr;
    float* gbeta = bias.defined() && bias.requires_grad() ? grad_buffer(bias) : nullptr;
    for (int64_t k = 0; k < G; ++k)
        for (int64_t c = 0; c < C; ++c) {
            if (ggamma) ggamma[c] += static_cast<float>(sum_dy_xhat[k * C + c]);
            if (gbeta) gbeta[c] += static_cast<float>(sum_dy[k * C + c]);
        }
    if (!x.requires_grad()) return;  // (every rank's x requires grad alike, so no rank skips the allreduce)
    if (sync) {
        std::vector<double> message(sum_dy);
        message.insert(message.end(), sum_dy_xhat.begin(), sum_dy_xhat.end());
        sync->allreduce_sum(message);
        std::copy(message.begin(), message.begin() + C, sum_dy.begin());
        std::copy(message.begin() + C, message.end(), sum_dy_xhat.begin());
    }
    // dx = k (dy - mean(dy) - xhat mean(dy xhat)), k = gamma rstd, means over the group's M values.
    const float* w = weight.defined() ? weight.data() : nullptr;
    const GradTarget gx = grad_target(x);
    parallel_for(C, 2 * grp.N * S, [&](int64_t c_begin, int64_t c_end) {
        for_group_rows(grp, c_begin, c_end, [&](int64_t k, int64_t c, int64_t row) {
            const int64_t i = k * C + c;
            const float mu = mean[i], rs = rstd[i], kc = (w ? w[c] : 1.0f) * rs;
            const auto m1 = static_cast<float>(sum_dy[i] / saved.counts[k]);
            const auto m2 = static_cast<float>(sum_dy_xhat[i] / saved.counts[k]);
            store_grad(gx.data + row, gx.accumulate, S, [&](int64_t s) {
                const float xhat = (px[row + s] - mu) * rs;
                return kc * (g[row + s] - m1 - xhat * m2);
            });
        });
    });
}

}  // namespace

Tensor ghost_batch_norm(const Tensor& x, Tensor running_mean, Tensor running_var, const Tensor& weight,
                        const Tensor& bias, int64_t ghost_batch_size, double momentum, double eps) {
    if (ghost_batch_size < 1)
        throw Error("ghost_batch_norm: ghost_batch_size must be >= 1, got " + std::to_string(ghost_batch_size));
    return grouped_batch_norm("ghost_batch_norm", x, std::move(running_mean), std::move(running_var), weight, bias,
                              momentum, eps, ghost_batch_size, nullptr);
}

Tensor sync_batch_norm(const Tensor& x, Tensor running_mean, Tensor running_var, const Tensor& weight,
                       const Tensor& bias, Collective& group, double momentum, double eps) {
    return grouped_batch_norm("sync_batch_norm", x, std::move(running_mean), std::move(running_var), weight, bias,
                              momentum, eps, std::max<int64_t>(x.ndim() >= 1 ? x.dim(0) : 1, 1), &group);
}

}  // namespace bnlab
