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
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/ops.h"
#include "core/profiler.h"
#include "core/tape.h"

namespace bnlab {

namespace {

// Which affine parameter element j of row r uses: a = (r % groups) * per_group + j / spatial.
// LayerNorm: groups 1, per_group D, spatial 1 (a = j). GroupNorm: a = the channel.
struct RowLayout {
    int64_t rows, D, groups, per_group, spatial;
    int64_t affine(int64_t r, int64_t j) const { return (r % groups) * per_group + j / spatial; }
};

Tensor row_norm(const char* name, const Tensor& x, const RowLayout& L, const Tensor& weight, const Tensor& bias,
                double eps) {
    const ProfileScope profile(name);
    auto mean = std::make_shared<std::vector<float>>(static_cast<size_t>(L.rows));
    auto rstd = std::make_shared<std::vector<float>>(static_cast<size_t>(L.rows));
    Tensor y = Tensor::empty(x.shape());
    const float* px = x.data();
    float* py = y.data();
    const float* gamma = weight.defined() ? weight.data() : nullptr;
    const float* beta = bias.defined() ? bias.data() : nullptr;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < L.rows; ++r) {
        const float* xr = px + r * L.D;
        const double shift = xr[0];  // shifted sums: accurate when |mean| >> std
        double s1 = 0.0, s2 = 0.0;
        for (int64_t j = 0; j < L.D; ++j) {
            const double d = xr[j] - shift;
            s1 += d;
            s2 += d * d;
        }
        const double m1 = s1 / static_cast<double>(L.D);
        const double var = std::max(s2 / static_cast<double>(L.D) - m1 * m1, 0.0);
        const auto mu = static_cast<float>(shift + m1);
        const auto rs = static_cast<float>(1.0 / std::sqrt(var + eps));
        (*mean)[static_cast<size_t>(r)] = mu;
        (*rstd)[static_cast<size_t>(r)] = rs;
        float* yr = py + r * L.D;
        for (int64_t j = 0; j < L.D; ++j) {
            const int64_t a = L.affine(r, j);
            yr[j] = (xr[j] - mu) * rs * (gamma ? gamma[a] : 1.0f) + (beta ? beta[a] : 0.0f);
        }
    }

    if (Tape* tape = recording_tape({&x, &weight, &bias})) {
        tape->record(name, {x, weight, bias}, y, [x, weight, bias, L, mean, rstd](const Tensor& gy) {
            const float* px = x.data();
            const float* g = gy.data();
            const float* gamma = weight.defined() ? weight.data() : nullptr;
            if (x.requires_grad()) {
                float* gx = grad_buffer(x);
#pragma omp parallel for schedule(static)
                for (int64_t r = 0; r < L.rows; ++r) {
                    const float mu = (*mean)[static_cast<size_t>(r)], rs = (*rstd)[static_cast<size_t>(r)];
                    const float* xr = px + r * L.D;
                    const float* gr = g + r * L.D;
                    double sum_u = 0.0, sum_u_xhat = 0.0;
                    for (int64_t j = 0; j < L.D; ++j) {
                        const double u = gr[j] * (gamma ? gamma[L.affine(r, j)] : 1.0f);
                        sum_u += u;
                        sum_u_xhat += u * ((xr[j] - mu) * rs);
                    }
                    const auto mean_u = static_cast<float>(sum_u / static_cast<double>(L.D));
                    const auto mean_u_xhat = static_cast<float>(sum_u_xhat / static_cast<double>(L.D));
                    float* dxr = gx + r * L.D;
                    for (int64_t j = 0; j < L.D; ++j) {
                        const float u = gr[j] * (gamma ? gamma[L.affine(r, j)] : 1.0f);
                        const float xhat = (xr[j] - mu) * rs;
                        dxr[j] += rs * (u - mean_u - xhat * mean_u_xhat);
                    }
                }
            }
            float* ggamma = weight.defined() && weight.requires_grad() ? grad_buffer(weight) : nullptr;
            float* gbeta = bias.defined() && bias.requires_grad() ? grad_buffer(bias) : nullptr;
            if (!ggamma && !gbeta) return;
            // Parameter gradients sum over rows: serial, so the order (and the bits) never
            // depend on the thread count.
            for (int64_t r = 0; r < L.rows; ++r) {
                const float mu = (*mean)[static_cast<size_t>(r)], rs = (*rstd)[static_cast<size_t>(r)];
                for (int64_t j = 0; j < L.D; ++j) {
                    const int64_t i = r * L.D + j, a = L.affine(r, j);
                    if (ggamma) ggamma[a] += g[i] * ((px[i] - mu) * rs);
                    if (gbeta) gbeta[a] += g[i];
                }
            }
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
