#include "core/ops/reference.h"

#include <cmath>
#include <functional>
#include <vector>

namespace bnlab::reference {

namespace {

int64_t out_size(int64_t in, int64_t k, int stride, int padding) { return (in + 2 * padding - k) / stride + 1; }

// GroupNorm and LayerNorm are one computation with different index maps: element i belongs to
// statistics set set_of(i) and uses affine parameter param_of(i). (BatchNorm is the same with
// set = channel; its plain version is spelled out in batch_norm_reference.cpp.)
//   mu_s = mean of x over set s;  var_s = mean of (x - mu_s)^2;  rstd_s = 1/sqrt(var_s + eps)
//   xhat = (x - mu) rstd;  y = gamma_a xhat + beta_a
// Backward, g = dy gamma_a:  dx = rstd (g - mean_s(g) - xhat mean_s(g xhat));
// dgamma_a = sum dy xhat;  dbeta_a = sum dy.
struct Norm {
    int64_t sets;
    Shape params;
    std::function<int64_t(int64_t)> set_of, param_of;
};

struct Stats {
    std::vector<double> mean, rstd;
};

Stats statistics(const Tensor& x, const Norm& norm, double eps) {
    const auto S = static_cast<size_t>(norm.sets);
    Stats st{std::vector<double>(S), std::vector<double>(S)};
    std::vector<double> count(S), var(S);
    const float* px = x.data();
    for (int64_t i = 0; i < x.numel(); ++i) {
        const auto s = static_cast<size_t>(norm.set_of(i));
        st.mean[s] += px[i];
        count[s] += 1;
    }
    for (size_t s = 0; s < S; ++s) st.mean[s] /= count[s];
    for (int64_t i = 0; i < x.numel(); ++i) {
        const auto s = static_cast<size_t>(norm.set_of(i));
        var[s] += (px[i] - st.mean[s]) * (px[i] - st.mean[s]) / count[s];
    }
    for (size_t s = 0; s < S; ++s) st.rstd[s] = 1.0 / std::sqrt(var[s] + eps);
    return st;
}

double param(const Tensor& t, int64_t a, double absent) { return t.defined() ? t.data()[a] : absent; }

Tensor normalize(const Tensor& x, const Norm& norm, const Tensor& weight, const Tensor& bias, double eps) {
    const Stats st = statistics(x, norm, eps);
    Tensor y = Tensor::empty(x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) {
        const auto s = static_cast<size_t>(norm.set_of(i));
        const int64_t a = norm.param_of(i);
        const double xhat = (x.data()[i] - st.mean[s]) * st.rstd[s];
        y.data()[i] = static_cast<float>(param(weight, a, 1.0) * xhat + param(bias, a, 0.0));
    }
    return y;
}

Grads normalize_backward(const Tensor& x, const Norm& norm, const Tensor& weight, double eps, const Tensor& gy) {
    const Stats st = statistics(x, norm, eps);
    const auto S = static_cast<size_t>(norm.sets);
    const int64_t n = x.numel();
    std::vector<double> xhat(static_cast<size_t>(n)), g(static_cast<size_t>(n));
    std::vector<double> count(S), mean_g(S), mean_g_xhat(S), dgamma(static_cast<size_t>(norm.params.numel())),
        dbeta(dgamma.size());
    for (int64_t i = 0; i < n; ++i) {
        const auto s = static_cast<size_t>(norm.set_of(i));
        const auto a = static_cast<size_t>(norm.param_of(i));
        const auto u = static_cast<size_t>(i);
        xhat[u] = (x.data()[i] - st.mean[s]) * st.rstd[s];
        g[u] = gy.data()[i] * param(weight, norm.param_of(i), 1.0);
        count[s] += 1;
        mean_g[s] += g[u];
        mean_g_xhat[s] += g[u] * xhat[u];
        dgamma[a] += gy.data()[i] * xhat[u];
        dbeta[a] += gy.data()[i];
    }
    Grads out{Tensor::empty(x.shape()), Tensor::empty(norm.params), Tensor::empty(norm.params)};
    for (int64_t i = 0; i < n; ++i) {
        const auto s = static_cast<size_t>(norm.set_of(i));
        const auto u = static_cast<size_t>(i);
        const double dx = st.rstd[s] * (g[u] - mean_g[s] / count[s] - xhat[u] * mean_g_xhat[s] / count[s]);
        out.x.data()[i] = static_cast<float>(dx);
    }
    for (size_t a = 0; a < dgamma.size(); ++a) {
        out.weight.data()[a] = static_cast<float>(dgamma[a]);
        out.bias.data()[a] = static_cast<float>(dbeta[a]);
    }
    return out;
}

Norm group_norm_index(const Tensor& x, int groups) {
    const int64_t C = x.dim(1), S = x.numel() / (x.dim(0) * C), per_group = C / groups;
    return {x.dim(0) * groups, Shape{C},
            [=](int64_t i) { return (i / (C * S)) * groups + (i / S) % C / per_group; },
            [=](int64_t i) { return (i / S) % C; }};
}

Norm layer_norm_index(const Tensor& x, int normalized_ndim) {
    Shape params;
    for (int d = x.ndim() - normalized_ndim; d < x.ndim(); ++d) params.push_back(x.dim(d));
    const int64_t D = params.numel();
    return {x.numel() / D, params, [=](int64_t i) { return i / D; }, [=](int64_t i) { return i % D; }};
}

// Calls f(n, c, h, w) for every in-bounds input pixel of window (oh, ow) of plane (n, c).
template <class F>
void for_window(const Tensor& x, int kernel, int stride, int padding, int64_t oh, int64_t ow, F f) {
    for (int64_t i = 0; i < kernel; ++i)
        for (int64_t j = 0; j < kernel; ++j) {
            const int64_t h = oh * stride - padding + i, w = ow * stride - padding + j;
            if (h >= 0 && h < x.dim(2) && w >= 0 && w < x.dim(3)) f(h, w);
        }
}

// For each output of max pooling: the flat index into x of the window's winner.
std::vector<int64_t> pool_winners(const Tensor& x, int kernel, int stride, int padding) {
    const int64_t Ho = out_size(x.dim(2), kernel, stride, padding), Wo = out_size(x.dim(3), kernel, stride, padding);
    std::vector<int64_t> winners;
    for (int64_t plane = 0; plane < x.dim(0) * x.dim(1); ++plane)
        for (int64_t oh = 0; oh < Ho; ++oh)
            for (int64_t ow = 0; ow < Wo; ++ow) {
                int64_t best = -1;
                bool nan_seen = false;
                for_window(x, kernel, stride, padding, oh, ow, [&](int64_t h, int64_t w) {
                    const int64_t i = (plane * x.dim(2) + h) * x.dim(3) + w;
                    const float v = x.data()[i];
                    if (nan_seen) return;
                    if (std::isnan(v)) {
                        nan_seen = true;
                        best = i;
                    } else if (best < 0 || v > x.data()[best]) {
                        best = i;
                    }
                });
                winners.push_back(best);
            }
    return winners;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int stride, int padding) {
    const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
    const int64_t F = weight.dim(0), kh = weight.dim(2), kw = weight.dim(3);
    const int64_t Ho = out_size(H, kh, stride, padding), Wo = out_size(W, kw, stride, padding);
    Tensor y = Tensor::empty({N, F, Ho, Wo});
    for (int64_t n = 0; n < N; ++n)
        for (int64_t f = 0; f < F; ++f)
            for (int64_t oh = 0; oh < Ho; ++oh)
                for (int64_t ow = 0; ow < Wo; ++ow) {
                    double total = bias.defined() ? bias.at({f}) : 0.0;
                    for (int64_t c = 0; c < C; ++c)
                        for (int64_t i = 0; i < kh; ++i)
                            for (int64_t j = 0; j < kw; ++j) {
                                const int64_t h = oh * stride - padding + i, w = ow * stride - padding + j;
                                if (h >= 0 && h < H && w >= 0 && w < W)
                                    total += static_cast<double>(weight.at({f, c, i, j})) * x.at({n, c, h, w});
                            }
                    y.at({n, f, oh, ow}) = static_cast<float>(total);
                }
    return y;
}

// dy[n,f,oh,ow] flows to every term of its sum: dx[n,c,h,w] += w[f,c,i,j] dy,
// dw[f,c,i,j] += x[n,c,h,w] dy, dbias[f] += dy.
Grads conv2d_backward(const Tensor& x, const Tensor& weight, bool has_bias, int stride, int padding,
                      const Tensor& gy) {
    const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
    const int64_t F = weight.dim(0), kh = weight.dim(2), kw = weight.dim(3), Ho = gy.dim(2), Wo = gy.dim(3);
    std::vector<double> dx(static_cast<size_t>(x.numel())), dw(static_cast<size_t>(weight.numel())),
        db(static_cast<size_t>(F));
    for (int64_t n = 0; n < N; ++n)
        for (int64_t f = 0; f < F; ++f)
            for (int64_t oh = 0; oh < Ho; ++oh)
                for (int64_t ow = 0; ow < Wo; ++ow) {
                    const double g = gy.at({n, f, oh, ow});
                    db[static_cast<size_t>(f)] += g;
                    for (int64_t c = 0; c < C; ++c)
                        for (int64_t i = 0; i < kh; ++i)
                            for (int64_t j = 0; j < kw; ++j) {
                                const int64_t h = oh * stride - padding + i, w = ow * stride - padding + j;
                                if (h < 0 || h >= H || w < 0 || w >= W) continue;
                                const auto xi = static_cast<size_t>(((n * C + c) * H + h) * W + w);
                                const auto wi = static_cast<size_t>(((f * C + c) * kh + i) * kw + j);
                                dx[xi] += weight.data()[wi] * g;
                                dw[wi] += x.data()[xi] * g;
                            }
                }
    const auto to_tensor = [](const Shape& shape, const std::vector<double>& v) {
        Tensor t = Tensor::empty(shape);
        for (size_t i = 0; i < v.size(); ++i) t.data()[i] = static_cast<float>(v[i]);
        return t;
    };
    return {to_tensor(x.shape(), dx), to_tensor(weight.shape(), dw), has_bias ? to_tensor(Shape{F}, db) : Tensor()};
}

Tensor group_norm(const Tensor& x, int groups, const Tensor& weight, const Tensor& bias, double eps) {
    return normalize(x, group_norm_index(x, groups), weight, bias, eps);
}

Grads group_norm_backward(const Tensor& x, int groups, const Tensor& weight, double eps, const Tensor& gy) {
    return normalize_backward(x, group_norm_index(x, groups), weight, eps, gy);
}

Tensor layer_norm(const Tensor& x, int normalized_ndim, const Tensor& weight, const Tensor& bias, double eps) {
    return normalize(x, layer_norm_index(x, normalized_ndim), weight, bias, eps);
}

Grads layer_norm_backward(const Tensor& x, int normalized_ndim, const Tensor& weight, double eps, const Tensor& gy) {
    return normalize_backward(x, layer_norm_index(x, normalized_ndim), weight, eps, gy);
}

Tensor max_pool2d(const Tensor& x, int kernel, int stride, int padding) {
    const std::vector<int64_t> winners = pool_winners(x, kernel, stride, padding);
    Tensor y = Tensor::empty({x.dim(0), x.dim(1), out_size(x.dim(2), kernel, stride, padding),
                              out_size(x.dim(3), kernel, stride, padding)});
    for (size_t o = 0; o < winners.size(); ++o) y.data()[o] = x.data()[winners[o]];
    return y;
}

Tensor max_pool2d_backward(const Tensor& x, int kernel, int stride, int padding, const Tensor& gy) {
    const std::vector<int64_t> winners = pool_winners(x, kernel, stride, padding);
    Tensor dx = Tensor::zeros(x.shape());
    for (size_t o = 0; o < winners.size(); ++o) dx.data()[winners[o]] += gy.data()[o];
    return dx;
}

Tensor relu(const Tensor& x) {
    Tensor y = Tensor::empty(x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) y.data()[i] = x.data()[i] > 0.0f ? x.data()[i] : 0.0f;
    return y;
}

Tensor relu_backward(const Tensor& y, const Tensor& gy) {
    Tensor dx = Tensor::empty(y.shape());
    for (int64_t i = 0; i < y.numel(); ++i) dx.data()[i] = y.data()[i] > 0.0f ? gy.data()[i] : 0.0f;
    return dx;
}

}  // namespace bnlab::reference
