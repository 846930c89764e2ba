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
// batch_norm_relu_max_pool2d adds a 2x2 max pool, stride 2 (conv -> BN -> ReLU -> pool, the
// small CNNs' stage): forward writes only the pooled (N,C,H/2,W/2) output, never the full-size
// ReLU output, and backward rebuilds the pool's and the ReLU's gradient of each (n, c) plane
// from x and the pooled gradient in a cache-resident buffer (dz = dy_pooled at the window's
// winner where its ReLU output was positive, else 0), instead of the pool writing it to memory
// and BN reading it twice. Memory traffic per value: 1 + 1 + 1/4 forward, 1 + 1/4 + 1 + 1/4 + 1
// backward (about 5.75 passes) where the three ops make 11.5. Again bit for bit the unfused ops.
//
// Each of the three takes `conv_sums` (core/ops.h ChannelSums): the per-image row sums of the
// statistics pass, made by the conv2d that wrote x while each image's output was in cache.
// Added up here in the same order, they save the forward's first pass over x, bit for bit.
//
// To learn BN, read batch_norm_reference.cpp first (the same math in plain loops, with the
// chain rule through mu and var term by term; the tests check this kernel against it), then
// batch_norm_composed.cpp (BN built from small ops, the backward derived by the tape).
#include <algorithm>
#include <cmath>
#include <string>

#include <omp.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

// What the op applies after the normalization: nothing (batch_norm), a ReLU (batch_norm_relu),
// or a ReLU and then a 2x2 max pool with stride 2 (batch_norm_relu_max_pool2d).
enum class After { nothing, relu, relu_max_pool2 };

// Defined below the op, so that the file reads forward, then backward, then helpers.
struct BackwardArgs {
    bool use_batch_stats;
    After after;
    int64_t N, C, S, M, H, W;  // H, W: the planes' size (relu_max_pool2 only)
};
void batch_norm_backward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& stats,
                         const BackwardArgs& a, const Tensor& gy);

// ReLU's select, as relu() writes it (NaN goes to 0 as there).
inline float relu_of(float v) { return v > 0.0f ? v : 0.0f; }

// A 2x2 window's ReLU outputs z = relu(x * a + b) (top-left, top-right, bottom-left,
// bottom-right), in lanes: one window per lane, kLanes windows at a time where SSE2 is there
// (every x86-64 CPU), one at a time otherwise. z is never NaN, so max_pool2d's winner (the first
// of the largest in row-major order) is the first z equal to the window's max.
#if defined(__SSE2__)
using Lanes = __m128;
constexpr int64_t kLanes = 4;
inline Lanes splat(float v) { return _mm_set1_ps(v); }
inline Lanes select(Lanes mask, Lanes yes, Lanes no) { return _mm_or_ps(_mm_and_ps(mask, yes), _mm_andnot_ps(mask, no)); }
inline Lanes greater(Lanes u, Lanes v) { return _mm_cmpgt_ps(u, v); }
inline Lanes relu_lanes(Lanes v) { return _mm_and_ps(_mm_cmpgt_ps(v, _mm_setzero_ps()), v); }  // NaN -> 0 too
// Windows ow .. ow+3 of a row pair: 8 floats of a row are 4 windows' (left, right) pairs.
inline void load_pairs(const float* row, int64_t ow, Lanes& left, Lanes& right) {
    const Lanes lo = _mm_loadu_ps(row + 2 * ow), hi = _mm_loadu_ps(row + 2 * ow + 4);
    left = _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    right = _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
}
inline void store_pairs(float* row, int64_t ow, Lanes left, Lanes right) {
    _mm_storeu_ps(row + 2 * ow, _mm_unpacklo_ps(left, right));
    _mm_storeu_ps(row + 2 * ow + 4, _mm_unpackhi_ps(left, right));
}
inline Lanes load(const float* p) { return _mm_loadu_ps(p); }
inline void store(float* p, Lanes v) { _mm_storeu_ps(p, v); }
inline Lanes is_equal(Lanes u, Lanes v) { return _mm_cmpeq_ps(u, v); }
inline Lanes and_not(Lanes mask, Lanes v) { return _mm_andnot_ps(mask, v); }  // v where mask is clear
inline Lanes either(Lanes u, Lanes v) { return _mm_or_ps(u, v); }
inline Lanes add(Lanes u, Lanes v) { return _mm_add_ps(u, v); }
// x * a + b rounded twice, as the scalar x * a + b (no FMA in the portable build): the same z.
inline Lanes fma_free(Lanes x, Lanes a, Lanes b) { return _mm_add_ps(_mm_mul_ps(x, a), b); }
#endif

// One output row of max_pool2d(relu(x * a + b), 2, 2) from the input rows `top` and `bottom`
// (out[0, Wo)); with `g`, instead its backward into the ReLU's input: g[ow] goes to window ow's
// winner where its z > 0, 0 to the three others (dz_top, dz_bottom: the rows of top and bottom).
// 0 + g: the same float the pool's backward makes (it adds into a zeroed gradient).
void relu_max_pool2_row(const float* top, const float* bottom, float a, float b, int64_t Wo, float* out,
                        const float* g = nullptr, float* dz_top = nullptr, float* dz_bottom = nullptr) {
    int64_t ow = 0;
#if defined(__SSE2__)
    const Lanes va = splat(a), vb = splat(b), zero = splat(0.0f);
    // Groups of kLanes windows; a short last group becomes the group ending at Wo, which
    // recomputes a few windows and stores the same values again.
    for (int64_t group = 0; group < Wo && Wo >= kLanes; group += kLanes) {
        ow = std::min(group, Wo - kLanes);
        Lanes x0, x1, x2, x3;
        load_pairs(top, ow, x0, x1);
        load_pairs(bottom, ow, x2, x3);
        const Lanes z0 = relu_lanes(fma_free(x0, va, vb)), z1 = relu_lanes(fma_free(x1, va, vb));
        const Lanes z2 = relu_lanes(fma_free(x2, va, vb)), z3 = relu_lanes(fma_free(x3, va, vb));
        const Lanes top_best = select(greater(z1, z0), z1, z0), bottom_best = select(greater(z3, z2), z3, z2);
        const Lanes best = select(greater(bottom_best, top_best), bottom_best, top_best);
        if (!g) {
            store(out + ow, best);
            continue;
        }
        const Lanes v = select(greater(best, zero), add(zero, load(g + ow)), zero);
        const Lanes first = is_equal(z0, best);
        const Lanes second = and_not(first, is_equal(z1, best));
        const Lanes taken = either(first, second);
        const Lanes third = and_not(taken, is_equal(z2, best));
        store_pairs(dz_top, ow, select(first, v, zero), select(second, v, zero));
        store_pairs(dz_bottom, ow, select(third, v, zero), and_not(either(taken, third), v));  // fourth: no other won
    }
    if (Wo >= kLanes) return;
#endif
    for (; ow < Wo; ++ow) {
        const float z0 = relu_of(top[2 * ow] * a + b), z1 = relu_of(top[2 * ow + 1] * a + b);
        const float z2 = relu_of(bottom[2 * ow] * a + b), z3 = relu_of(bottom[2 * ow + 1] * a + b);
        const float top_best = z1 > z0 ? z1 : z0, bottom_best = z3 > z2 ? z3 : z2;
        const float best = bottom_best > top_best ? bottom_best : top_best;
        if (!g) {
            out[ow] = best;
            continue;
        }
        const float v = best > 0.0f ? 0.0f + g[ow] : 0.0f;
        const int winner = z0 == best ? 0 : z1 == best ? 1 : z2 == best ? 2 : 3;
        dz_top[2 * ow] = winner == 0 ? v : 0.0f;
        dz_top[2 * ow + 1] = winner == 1 ? v : 0.0f;
        dz_bottom[2 * ow] = winner == 2 ? v : 0.0f;
        dz_bottom[2 * ow + 1] = winner == 3 ? v : 0.0f;
    }
}

// batch_norm, then what `after` says (batch_norm_relu, batch_norm_relu_max_pool2d).
Tensor batch_norm_forward(const char* op, const Tensor& x, Tensor running_mean, Tensor running_var,
                          const Tensor& weight, const Tensor& bias, bool training, double momentum, double eps,
                          After after, const ChannelSums* conv_sums) {
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
    if (conv_sums && (conv_sums->output != x.data() || conv_sums->N != N || conv_sums->C != C ||
                      conv_sums->sums.size() != static_cast<size_t>(2 * N * C)))
        throw Error(std::string(op) + ": the conv2d output sums given are not those of this input " + x.shape().str());

    // Per channel, saved for backward: the mean and 1/sqrt(var + eps) used (rows 0 and 1), and
    // the scale and offset of y = x * scale + offset (rows 2 and 3: the ReLU's mask).
    const bool pool = after == After::relu_max_pool2;
    const int64_t H = pool ? x.dim(2) : 1, W = pool ? x.dim(3) : 1;
    Tensor stats = Tensor::empty({4, C});
    Tensor y = pool ? Tensor::empty({N, C, H / 2, W / 2}) : Tensor::empty(x.shape());
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
            // (conv2d's sums are these same row sums: added here in the same order.)
            if (use_batch_stats && conv_sums)
                for (int64_t n = 0; n < N; ++n)
                    for (int64_t c = cb; c < ce; ++c) {
                        sums[c - cb].first += conv_sums->sums[2 * (n * C + c)];
                        sums[c - cb].second += conv_sums->sums[2 * (n * C + c) + 1];
                    }
            else if (use_batch_stats)
                for_rows(N, C, S, cb, ce, [&](int64_t c, int64_t row) {
                    const TwoSums r = detail::shifted_sums(px + row, px[c * S], S);
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
                if (after == After::relu_max_pool2) {
                    float* out = py + row / S * ((H / 2) * (W / 2));
                    for (int64_t oh = 0; oh < H / 2; ++oh)
                        relu_max_pool2_row(px + row + 2 * oh * W, px + row + (2 * oh + 1) * W, a, b, W / 2,
                                           out + oh * (W / 2));
                } else if (after == After::relu) {
                    for (int64_t s = 0; s < S; ++s) py[row + s] = relu_of(px[row + s] * a + b);
                } else {
                    for (int64_t s = 0; s < S; ++s) py[row + s] = px[row + s] * a + b;
                }
            });
        }
    });

    if (Tape* tape = recording_tape({&x, &weight, &bias})) {
        const BackwardArgs args{use_batch_stats, after, N, C, S, M, H, W};
        tape->record(op, {x, weight, bias}, y, [x, weight, bias, stats, args](const Tensor& gy) {
            batch_norm_backward(x, weight, bias, stats, args, gy);
        });
    }
    return y;
}

}  // namespace

Tensor batch_norm(const Tensor& x, Tensor running_mean, Tensor running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps, const ChannelSums* conv_sums) {
    return batch_norm_forward("batch_norm", x, std::move(running_mean), std::move(running_var), weight, bias, training,
                              momentum, eps, After::nothing, conv_sums);
}

Tensor batch_norm_relu(const Tensor& x, Tensor running_mean, Tensor running_var, const Tensor& weight,
                       const Tensor& bias, bool training, double momentum, double eps, const ChannelSums* conv_sums) {
    return batch_norm_forward("batch_norm_relu", x, std::move(running_mean), std::move(running_var), weight, bias,
                              training, momentum, eps, After::relu, conv_sums);
}

Tensor batch_norm_relu_max_pool2d(const Tensor& x, Tensor running_mean, Tensor running_var, const Tensor& weight,
                                  const Tensor& bias, bool training, double momentum, double eps,
                                  const ChannelSums* conv_sums) {
    if (x.ndim() != 4 || x.dim(2) < 2 || x.dim(3) < 2)
        throw ShapeError("batch_norm_relu_max_pool2d: input must be (N,C,H,W) with H, W >= 2, got " + x.shape().str());
    return batch_norm_forward("batch_norm_relu_max_pool2d", x, std::move(running_mean), std::move(running_var), weight,
                              bias, training, momentum, eps, After::relu_max_pool2, conv_sums);
}

namespace {

// dbeta = sum dz;  dgamma = sum dz * xhat;  dx = k (dz - mean(dz) - xhat mean(dz xhat)), k = gamma rstd
// (with running statistics: dx = k dz). stats: what forward saved, (4, C). dz is BN's own
// output gradient: gy itself, or gy through the ReLU (and the pool) fused after it, rebuilt per
// (n, c) plane in a buffer that stays in cache between its writes and the sums or dx reading it.
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
    // One dz buffer per thread of the loop below (one in all when it runs inside another
    // parallel region, which runs it on the calling thread).
    const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    Tensor dz_buffers = a.after == After::nothing ? Tensor() : Tensor::empty({threads, S});
    const int64_t pooled_plane = (a.H / 2) * (a.W / 2);
    parallel_for(C, 3 * a.M, [&](int64_t c_begin, int64_t c_end) {
        float* dz = a.after == After::nothing ? nullptr : dz_buffers.data() + (threads > 1 ? omp_get_thread_num() : 0) * S;
        // dz of plane (n, c), row = its first element: the same floats as relu's and
        // max_pool2d's backward would write (0 + dy: a -0 gradient becomes +0 there too).
        const auto dz_of = [&](int64_t c, int64_t row) -> const float* {
            if (a.after == After::nothing) return g + row;
            const float* xc = xv + row;
            const float sc = scale[c], off = offset[c];
            if (a.after == After::relu) {
                const float* gc = g + row;
                for (int64_t s = 0; s < S; ++s) {  // both loads unconditional: the select vectorizes
                    const float dy = gc[s], y = xc[s] * sc + off;
                    dz[s] = y > 0.0f ? dy : 0.0f;
                }
                return dz;
            }
            const int64_t H = a.H, W = a.W, Wo = W / 2;
            const float* gp = g + row / S * pooled_plane;
            if (H % 2 || W % 2) std::fill_n(dz, S, 0.0f);  // an odd last row or column is in no window
            for (int64_t oh = 0; oh < H / 2; ++oh)
                relu_max_pool2_row(xc + 2 * oh * W, xc + (2 * oh + 1) * W, sc, off, Wo, nullptr, gp + oh * Wo,
                                   dz + 2 * oh * W, dz + (2 * oh + 1) * W);
            return dz;
        };
        for (int64_t cb = c_begin; cb < c_end; cb += kChannelBlock) {
            const int64_t ce = std::min(cb + kChannelBlock, c_end);
            // sum dz and sum dz (x - mu); times rstd the latter is sum dz xhat
            TwoSums sums[kChannelBlock];
            for_rows(N, C, S, cb, ce, [&](int64_t c, int64_t row) {
                const TwoSums r = sum_products(dz_of(c, row), 0.0f, xv + row, mean[c], S);
                sums[c - cb].first += r.first;
                sums[c - cb].second += r.second;
            });
            float k[kChannelBlock], mean_dz[kChannelBlock], mean_dz_xhat[kChannelBlock];
            for (int64_t c = cb; c < ce; ++c) {
                const double sum_dz = sums[c - cb].first, sum_dz_xhat = sums[c - cb].second * rstd[c];
                if (ggamma) ggamma[c] += static_cast<float>(sum_dz_xhat);
                if (gbeta) gbeta[c] += static_cast<float>(sum_dz);
                k[c - cb] = (w ? w[c] : 1.0f) * rstd[c];
                mean_dz[c - cb] = a.use_batch_stats ? static_cast<float>(sum_dz * inv_m) : 0.0f;
                mean_dz_xhat[c - cb] = a.use_batch_stats ? static_cast<float>(sum_dz_xhat * inv_m) : 0.0f;
            }
            if (!gx.data) continue;
            for_rows(N, C, S, cb, ce, [&](int64_t c, int64_t row) {
                const float mu = mean[c], rs = rstd[c], kc = k[c - cb], m1 = mean_dz[c - cb], m2 = mean_dz_xhat[c - cb];
                const float* xc = xv + row;
                const float* dzc = dz_of(c, row);
                store_grad(gx.data + row, gx.accumulate, S, [&](int64_t s) {
                    const float xhat = (xc[s] - mu) * rs;
                    return kc * (dzc[s] - m1 - xhat * m2);
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

detail::TwoSums detail::shifted_sums(const float* v, float shift, int64_t n) { return sum_products(v, shift, v, shift, n); }

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
