// LayerNorm (Ba et al. 2016) and GroupNorm (Wu & He 2018): both normalize contiguous rows.
//
// LayerNorm over the last dims: x is (R, D), one row per leading index.
// GroupNorm with G groups: x (N,C,S) is (R = N*G, D = (C/G)*S), one row per (n, group),
// since a group's channels are adjacent in memory.
// Per row:   mu = mean(x);  var = mean((x - mu)^2) (biased);  rstd = 1/sqrt(var + eps)
//            xhat = (x - mu) rstd;  y_j = gamma_a xhat_j + beta_a
// where a = a(r, j) is the affine index: j for LayerNorm, the channel for GroupNorm.
// Backward per row, with u_j = dy_j gamma_a:
//   dx = rstd (u - mean(u) - xhat mean(u xhat));  dgamma_a += dy xhat;  dbeta_a += dy
// Rows run in parallel; each row's parameter sums are kept per (row, block) and added per
// parameter afterwards, so no pass over x and dy is repeated for them.
#include <cmath>
#include <string>

#include "core/error.h"
#include "core/ops.h"
#include "core/ops/loops.h"
#include "core/parallel.h"
#include "core/profiler.h"
#include "core/tape.h"

namespace bnlab {

namespace {

// Row r's elements, as `per_group` blocks of `spatial` values that share one affine parameter:
// block b of row r uses parameter a = (r % groups) * per_group + b.
// LayerNorm: groups 1, per_group D, spatial 1 (a = j). GroupNorm: a is the channel.
struct RowLayout {
    int64_t rows, D, groups, per_group, spatial;
    int64_t affine(int64_t r, int64_t block) const { return (r % groups) * per_group + block; }
    int64_t params() const { return groups * per_group; }
};

Tensor row_norm(const char* name, const Tensor& x, const RowLayout& L, const Tensor& weight, const Tensor& bias,
                double eps) {
    const ProfileScope profile(name);
    // Per row: the mean and 1/sqrt(var + eps), row 0 and row 1 (saved for backward).
    Tensor stats = Tensor::empty({2, L.rows});
    Tensor y = Tensor::empty(x.shape());
    const float* px = x.data();
    float* py = y.data();
    const float* gamma = weight.defined() ? weight.data() : nullptr;
    const float* beta = bias.defined() ? bias.data() : nullptr;
    parallel_for(L.rows, 2 * L.D, [&](int64_t r_begin, int64_t r_end) {
        for (int64_t r = r_begin; r < r_end; ++r) {
            const float* xr = px + r * L.D;
            const float shift = xr[0];  // shifted sums: accurate when |mean| >> std
            const detail::TwoSums sums = detail::sum_products(xr, shift, xr, shift, L.D);
            const double m1 = sums.first / static_cast<double>(L.D);
            const double var = std::max(sums.second / static_cast<double>(L.D) - m1 * m1, 0.0);
            const auto mu = static_cast<float>(shift + m1);
            const auto rs = static_cast<float>(1.0 / std::sqrt(var + eps));
            stats.data()[r] = mu;
            stats.data()[L.rows + r] = rs;
            for (int64_t b = 0; b < L.per_group; ++b) {
                const int64_t a = L.affine(r, b);
                const float scale = rs * (gamma ? gamma[a] : 1.0f), shift_out = beta ? beta[a] : 0.0f;
                const float* xb = xr + b * L.spatial;
                float* yb = py + r * L.D + b * L.spatial;
                for (int64_t s = 0; s < L.spatial; ++s) yb[s] = (xb[s] - mu) * scale + shift_out;
            }
        }
    });

    if (Tape* tape = recording_tape({&x, &weight, &bias})) {
        tape->record(name, {x, weight, bias}, y, [x, weight, bias, L, stats](const Tensor& gy) {
            const float* px = x.data();
            const float* g = gy.data();
            const float* gamma = weight.defined() ? weight.data() : nullptr;
            const GradTarget gx = x.requires_grad() ? grad_target(x) : GradTarget{nullptr, false};
            // Per (row, block): sum dy and sum dy * xhat, for the parameter gradients below.
            Tensor block_sums = Tensor::empty({L.rows * L.per_group, 2});
            float* bs = block_sums.data();
            parallel_for(L.rows, 3 * L.D, [&](int64_t r_begin, int64_t r_end) {
                for (int64_t r = r_begin; r < r_end; ++r) {
                    const float mu = stats.data()[r], rs = stats.data()[L.rows + r];
                    // With u = dy * gamma: sum u and sum u * xhat over the row.
                    double sum_u = 0.0, sum_u_xhat = 0.0;
                    for (int64_t b = 0; b < L.per_group; ++b) {
                        const int64_t offset = r * L.D + b * L.spatial;
                        const detail::TwoSums t = detail::sum_products(g + offset, 0.0f, px + offset, mu, L.spatial);
                        const double ga = gamma ? gamma[L.affine(r, b)] : 1.0;
                        bs[(r * L.per_group + b) * 2] = static_cast<float>(t.first);
                        bs[(r * L.per_group + b) * 2 + 1] = static_cast<float>(t.second * rs);
                        sum_u += ga * t.first;
                        sum_u_xhat += ga * t.second * rs;
                    }
                    if (!gx.data) continue;
                    const auto mean_u = static_cast<float>(sum_u / static_cast<double>(L.D));
                    const auto mean_u_xhat = static_cast<float>(sum_u_xhat / static_cast<double>(L.D));
                    for (int64_t b = 0; b < L.per_group; ++b) {
                        const int64_t offset = r * L.D + b * L.spatial;
                        const float ga = gamma ? gamma[L.affine(r, b)] : 1.0f;
                        const float* xb = px + offset;
                        const float* gb = g + offset;
                        store_grad(gx.data + offset, gx.accumulate, L.spatial, [&](int64_t s) {
                            const float xhat = (xb[s] - mu) * rs;
                            return rs * (gb[s] * ga - mean_u - xhat * mean_u_xhat);
                        });
                    }
                }
            });
            float* ggamma = weight.defined() && weight.requires_grad() ? grad_buffer(weight) : nullptr;
            float* gbeta = bias.defined() && bias.requires_grad() ? grad_buffer(bias) : nullptr;
            if (!ggamma && !gbeta) return;
            // Parameter a sums its blocks over the leading index in order: block (r, b) with
            // r = lead * groups + a / per_group sits at lead * params + a. The bits never
            // depend on the thread count.
            const int64_t leads = L.rows / L.groups;
            parallel_for(L.params(), leads, [&](int64_t a_begin, int64_t a_end) {
                for (int64_t a = a_begin; a < a_end; ++a) {
                    double dbeta = 0.0, dgamma = 0.0;
                    for (int64_t lead = 0; lead < leads; ++lead) {
                        dbeta += bs[(lead * L.params() + a) * 2];
                        dgamma += bs[(lead * L.params() + a) * 2 + 1];
                    }
                    if (ggamma) ggamma[a] += static_cast<float>(dgamma);
                    if (gbeta) gbeta[a] += static_cast<float>(dbeta);
                }
            });
        });
    }
    return y;
}

void check_affine(const char* op, const char* what, const Tensor& t, const Shape& expected) {
    if (t.defined() && t.shape() != expected)
        throw ShapeError(std::string(op) + ": " + what + " " + t.shape().str() + " should be " + expected.str());
}

}  // namespace

Tensor layer_norm(const Tensor& x, int normalized_ndim, const Tensor& weight, const Tensor& bias, double eps) {
    if (normalized_ndim < 1 || normalized_ndim > x.ndim())
        throw ShapeError("layer_norm: cannot normalize the last " + std::to_string(normalized_ndim) +
                         " dimensions of " + x.shape().str());
    Shape normalized;
    for (int d = x.ndim() - normalized_ndim; d < x.ndim(); ++d) normalized.push_back(x.dim(d));
    check_affine("layer_norm", "weight", weight, normalized);
    check_affine("layer_norm", "bias", bias, normalized);
    const int64_t D = normalized.numel();
    if (D == 0) throw ShapeError("layer_norm: empty normalized shape in " + x.shape().str());
    const RowLayout L{x.numel() / D, D, 1, D, 1};
    return row_norm("layer_norm", x, L, weight, bias, eps);
}

Tensor group_norm(const Tensor& x, int num_groups, const Tensor& weight, const Tensor& bias, double eps) {
    if (x.ndim() < 2) throw ShapeError("group_norm: input must be (N,C,...), got " + x.shape().str());
    const int64_t N = x.dim(0), C = x.dim(1);
    if (num_groups < 1 || C % num_groups != 0)
        throw ShapeError("group_norm: " + std::to_string(C) + " channels of " + x.shape().str() +
                         " cannot be split into " + std::to_string(num_groups) + " groups");
    check_affine("group_norm", "weight", weight, Shape{C});
    check_affine("group_norm", "bias", bias, Shape{C});
    const int64_t S = N * C > 0 ? x.numel() / (N * C) : 0;
    const int64_t per_group = C / num_groups;
    if (per_group * S == 0) throw ShapeError("group_norm: empty groups in " + x.shape().str());
    const RowLayout L{N * num_groups, per_group * S, num_groups, per_group, S};
    return row_norm("group_norm", x, L, weight, bias, eps);
}

}  // namespace bnlab
