// conv2d as im2col + sgemm, one image at a time, images spread over the threads; 3x3
// stride-1 layers by Winograd F(2x2, 3x3) (winograd.h) or a direct loop (direct_conv.h)
// instead, forward and both gradients, each where it measured fastest (conv_algorithm).
//
// x: (N,C,H,W), weight: (F,C,kh,kw) -> y: (N,F,Ho,Wo), Ho = (H + 2p - kh)/s + 1, P = Ho*Wo.
// For image n, im2col lays every receptive field out as a column: cols (K, P), K = C*kh*kw,
//   cols[(c*kh + i)*kw + j][oh*Wo + ow] = x[n, c, oh*s - p + i, ow*s - p + j]   (0 outside),
// and the convolution is one matrix product that lands straight in y's NCHW layout:
//   y[n] (F, P) = weight (F, K) cols (K, P) + bias.
// Backward, with dy[n] (F, P) the output gradient of image n:
//   dweight (F, K) += sum over n of dy[n] cols^T
//   dcols (K, P)    = weight^T dy[n], and col2im adds each entry back onto the pixel it came from
//   dbias[f]       += sum over n, p of dy[n, f, p]
//
// Why per image: one image's cols (K*P floats, 1.2 MB for cifar-cnn's widest layer) is still
// in cache when sgemm reads it, where a whole-batch cols matrix (150 MB at batch 128) would
// go out to memory and back; and y needs no transpose. Each thread takes a fixed block of
// images with its own cols buffer and runs sgemm on one core (core/ops/blas.h: OpenBLAS or
// BLIS, single-threaded inside a parallel region); these shapes reach 85-100% of the
// one-core sgemm peak (bench_sgemm).
// A batch smaller than the thread count runs image by image with a multi-threaded sgemm.
// dweight is summed per thread and the partial sums added in thread order: deterministic.
// cols is rebuilt in backward rather than saved: it is kh*kw times the size of x.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <tuple>

#include "core/error.h"
#include "core/ops.h"
#include "core/ops/blas.h"
#include "core/ops/direct_conv.h"
#include "core/ops/loops.h"
#include "core/ops/winograd.h"
#include "core/parallel.h"
#include "core/profiler.h"
#include "core/tape.h"

namespace bnlab {

namespace {

using detail::automatic_3x3_algorithm, detail::ConvAlgorithm, detail::conv_algorithm_override, detail::ConvPass,
    detail::direct_conv_image, detail::direct_conv_supported, detail::direct_pack_weights, detail::direct_weight_grad_image,
    detail::DirectShape, detail::winograd_conv_image, detail::winograd_weight_grad_finish,
    detail::winograd_weight_grad_image, detail::winograd_weights, detail::WinogradShape;

struct ConvGeometry {
    int64_t N, C, H, W, F, kh, kw, stride, pad, Ho, Wo;
    int64_t P() const { return Ho * Wo; }
    int64_t K() const { return C * kh * kw; }
    // The output columns ow whose input column ow*stride - pad + j lies in [0, W): [first, last).
    std::pair<int64_t, int64_t> valid_columns(int64_t j) const {
        const int64_t lo = pad - j, hi = W - 1 + pad - j;  // need lo <= ow*stride <= hi
        const int64_t first = lo <= 0 ? 0 : (lo + stride - 1) / stride;
        const int64_t last = hi < 0 ? 0 : std::min(Wo, hi / stride + 1);
        return {std::min(first, last), last};
    }
};

// "Same" convolutions (stride 1, Wo == W, e.g. 3x3 with padding 1) have a shortcut: row
// (c,i,j) of cols is channel c shifted by a constant, cols[p] = x_c[p + shift], wherever the
// kernel entry lands inside the image. Those p lie in one span [begin, end), inside which
// only a few entries per image row (the first `first` and the last Wo - last columns) fall
// outside. Whole spans copy (im2col) and add (col2im) in one loop each, where row by row
// paid a loop per image row: measured 1.3-1.6x faster.
struct ShiftedSpan {
    int64_t shift, begin, end, oh_lo, oh_hi, first, last;
    template <class F>
    void for_each_border(int64_t Wo, F f) const {  // f(p) for the entries of the span outside
        for (int64_t oh = oh_lo; oh < oh_hi; ++oh) {
            for (int64_t ow = 0; ow < first; ++ow) f(oh * Wo + ow);
            for (int64_t ow = last; ow < Wo; ++ow) f(oh * Wo + ow);
        }
    }
};

bool same_convolution(const ConvGeometry& g) { return g.stride == 1 && g.Wo == g.W; }

ShiftedSpan shifted_span(const ConvGeometry& g, int64_t i, int64_t j) {
    const auto [first, last] = g.valid_columns(j);
    const int64_t oh_lo = std::max<int64_t>(0, g.pad - i), oh_hi = std::min(g.Ho, g.H + g.pad - i);
    if (oh_lo >= oh_hi || first >= last) return {0, 0, 0, 0, 0, 0, 0};  // never inside the image
    return {(i - g.pad) * g.W + (j - g.pad), oh_lo * g.Wo + first, (oh_hi - 1) * g.Wo + last, oh_lo, oh_hi,
            first, last};
}

// One image: x (C,H,W) -> cols (K, P).
void im2col(const ConvGeometry& g, const float* x, float* cols) {
    for (int64_t row = 0; row < g.K(); ++row) {
        const int64_t c = row / (g.kh * g.kw), i = (row / g.kw) % g.kh, j = row % g.kw;
        float* dst = cols + row * g.P();
        if (same_convolution(g)) {
            const ShiftedSpan span = shifted_span(g, i, j);
            const int64_t base = c * g.H * g.W + span.shift;  // dst[p] = x[base + p] inside the span
            for (int64_t p = 0; p < span.begin; ++p) dst[p] = 0.0f;
            for (int64_t p = span.begin; p < span.end; ++p) dst[p] = x[base + p];
            for (int64_t p = span.end; p < g.P(); ++p) dst[p] = 0.0f;
            span.for_each_border(g.Wo, [dst](int64_t p) { dst[p] = 0.0f; });
            continue;
        }
        const auto [first, last] = g.valid_columns(j);
        for (int64_t oh = 0; oh < g.Ho; ++oh) {
            float* out = dst + oh * g.Wo;
            const int64_t h = oh * g.stride - g.pad + i;
            if (h < 0 || h >= g.H) {
                std::fill_n(out, g.Wo, 0.0f);
                continue;
            }
            const float* src = x + (c * g.H + h) * g.W;  // pixel w = ow*stride - pad + j of row h
            std::fill(out, out + first, 0.0f);
            for (int64_t ow = first; ow < last; ++ow) out[ow] = src[ow * g.stride - g.pad + j];
            std::fill(out + last, out + g.Wo, 0.0f);
        }
    }
}

// One image: dx (C,H,W) += each entry of dcols (K, P) on the pixel it was copied from.
// dcols is scratch: the shortcut zeroes its entries that fell outside the image first.
void col2im_add(const ConvGeometry& g, float* dcols, float* dx) {
    for (int64_t row = 0; row < g.K(); ++row) {
        const int64_t c = row / (g.kh * g.kw), i = (row / g.kw) % g.kh, j = row % g.kw;
        float* src = dcols + row * g.P();
        if (same_convolution(g)) {
            const ShiftedSpan span = shifted_span(g, i, j);
            span.for_each_border(g.Wo, [src](int64_t p) { src[p] = 0.0f; });
            const int64_t base = c * g.H * g.W + span.shift;  // dx[base + p] += src[p] inside the span
            for (int64_t p = span.begin; p < span.end; ++p) dx[base + p] += src[p];
            continue;
        }
        const auto [first, last] = g.valid_columns(j);
        for (int64_t oh = 0; oh < g.Ho; ++oh) {
            const int64_t h = oh * g.stride - g.pad + i;
            if (h < 0 || h >= g.H) continue;
            float* out = dx + (c * g.H + h) * g.W;
            for (int64_t ow = first; ow < last; ++ow) out[ow * g.stride - g.pad + j] += src[oh * g.Wo + ow];
        }
    }
}

}  // namespace

namespace detail {

ConvAlgorithm automatic_3x3_algorithm(ConvPass pass, int64_t C, int64_t F, int64_t output_tiles, int64_t input_tiles) {
    // The channels the pass sums over (its K), the channels it writes, and its tiles.
    const auto [k_channels, out_channels, tiles] =
        pass == ConvPass::forward          ? std::tuple{C, F, output_tiles}
        : pass == ConvPass::input_gradient ? std::tuple{F, C, input_tiles}
                                           : std::tuple{C, F, output_tiles};
    if (direct_conv_supported() && direct_pays(k_channels, out_channels)) return ConvAlgorithm::direct;
    const bool winograd = pass == ConvPass::weight_gradient ? winograd_pays_for_weights(k_channels, tiles)
                                                            : winograd_pays(k_channels, tiles);
    return winograd ? ConvAlgorithm::winograd : ConvAlgorithm::im2col;
}

}  // namespace detail

namespace {

// How many threads take images: all of them when there are at least as many images;
// otherwise 1, and sgemm gets the threads instead.
int image_workers(int64_t N) { return N >= num_threads() ? num_threads() : 1; }

// Runs body(n, worker) for every image n, a fixed block of images per worker in [0, workers).
template <class Body>
void for_each_image(int64_t N, int workers, Body&& body) {
    if (workers == 1) {
        for (int64_t n = 0; n < N; ++n) body(n, 0);
        return;
    }
#pragma omp parallel for schedule(static) num_threads(workers)
    for (int64_t n = 0; n < N; ++n) body(n, omp_get_thread_num());
}

// 3x3 stride-1 layers with padding <= 2 (the input gradient's convolution pads by 2 - pad)
// have two more algorithms than im2col, when images are spread over the threads (their loops
// run on one core each): Winograd F(2x2, 3x3) (winograd.h) and the direct loop (direct_conv.h,
// where the CPU has AVX2 + FMA). Unless forced, each pass picks what measured fastest for its
// shape: the forward (K = C, the output's tiles), the input gradient (K = F, the input's tiles)
// and the weight gradient, each on its own.
ConvAlgorithm conv_algorithm(const ConvGeometry& g, ConvPass pass) {
    const ConvAlgorithm forced = conv_algorithm_override().load();
    if (forced == ConvAlgorithm::im2col || g.kh != 3 || g.kw != 3 || g.stride != 1 || g.pad > 2 ||
        image_workers(g.N) != num_threads())
        return ConvAlgorithm::im2col;
    if (forced == ConvAlgorithm::winograd) return ConvAlgorithm::winograd;
    if (forced == ConvAlgorithm::direct) return direct_conv_supported() ? ConvAlgorithm::direct : ConvAlgorithm::im2col;
    return automatic_3x3_algorithm(pass, g.C, g.F, ((g.Ho + 1) / 2) * ((g.Wo + 1) / 2), ((g.H + 1) / 2) * ((g.W + 1) / 2));
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

// The backward of conv2d for output gradient gy (N, F, P).
void conv2d_backward(const ConvGeometry& g, const Tensor& x, const Tensor& weight, const Tensor& bias,
                     const Tensor& gy) {
    const int64_t P = g.P(), K = g.K(), image_in = g.C * g.H * g.W, image_out = g.F * P;
    const float* pg = gy.data();
    if (bias.defined() && bias.requires_grad()) {
        float* gb = grad_buffer(bias);
        // Each channel sums over the images in order, whatever the thread count.
        parallel_for(g.F, g.N * P, [&](int64_t f_begin, int64_t f_end) {
            for (int64_t fb = f_begin; fb < f_end; fb += detail::kChannelBlock) {
                const int64_t fe = std::min(fb + detail::kChannelBlock, f_end);
                double total[detail::kChannelBlock] = {};
                detail::for_rows(g.N, g.F, P, fb, fe, [&](int64_t f, int64_t row) { total[f - fb] += detail::sum(pg + row, P); });
                for (int64_t f = fb; f < fe; ++f) gb[f] += static_cast<float>(total[f - fb]);
            }
        });
    }
    const bool want_w = weight.requires_grad(), want_x = x.requires_grad();
    if (!want_w && !want_x) return;
    const int workers = image_workers(g.N);
    const ConvAlgorithm for_w = conv_algorithm(g, ConvPass::weight_gradient),
                        for_x = conv_algorithm(g, ConvPass::input_gradient);
    // dx is a convolution of dy (F channels, Ho x Wo) with the kernel turned around (Winograd or
    // direct: the "flipped" shapes); dweight by Winograd's transposed algorithm or the direct loop.
    const WinogradShape flipped{g.F, g.Ho, g.Wo, g.C, 2 - g.pad}, forward{g.C, g.H, g.W, g.F, g.pad};
    const DirectShape direct_flipped{g.F, g.Ho, g.Wo, g.C, 2 - g.pad}, direct_forward{g.C, g.H, g.W, g.F, g.pad};
    const auto workspace = [&](ConvAlgorithm a, const WinogradShape& winograd, const DirectShape& direct) {
        return a == ConvAlgorithm::winograd ? winograd.workspace() : a == ConvAlgorithm::direct ? direct.workspace() : K * P;
    };
    // Per worker: one work buffer (im2col's cols, Winograd's tiles, direct's padded images) that
    // the weight-gradient pass and then the input-gradient pass use in turn, and the weight
    // gradient's sum: Winograd's Mw (16, F, C) always (G^T Mw G comes after the images); a dweight
    // (F, K) partial sum for im2col and direct when several workers share the images (one
    // worker adds straight into the gradient).
    const int64_t work_size = std::max(want_w ? workspace(for_w, forward, direct_forward) : 0,
                                       want_x ? workspace(for_x, flipped, direct_flipped) : 0);
    const int64_t sum_size = !want_w                               ? 0
                             : for_w == ConvAlgorithm::winograd   ? 16 * g.F * g.C
                             : workers > 1                         ? g.F * K
                                                                   : 0;
    Tensor work = Tensor::empty({workers, work_size}), sums;
    if (sum_size) sums = Tensor::zeros({workers, sum_size});
    Tensor kernel_x;  // the input gradient's kernel, transformed (Winograd) or packed (direct)
    if (want_x && for_x == ConvAlgorithm::winograd) {
        kernel_x = Tensor::empty({16, g.C, g.F});
        winograd_weights(weight.data(), g.C, g.F, true, kernel_x.data());
    } else if (want_x && for_x == ConvAlgorithm::direct) {
        kernel_x = Tensor::empty({direct_flipped.F_blocks() * g.F * 9 * detail::kDirectBlock});
        direct_pack_weights(weight.data(), g.C, g.F, true, kernel_x.data());
    }
    float* gw = want_w ? grad_buffer(weight) : nullptr;
    const GradTarget gx = want_x ? grad_target(x) : GradTarget{nullptr, false};
    const float* px = x.data();
    const float* pw = weight.data();
    const detail::Gemm gemm;  // the kernels, chosen here: not inside the parallel loop
    for_each_image(g.N, workers, [&](int64_t n, int worker) {
        float* scratch = work.data() + worker * work_size;
        const float* xn = px + n * image_in;
        const float* dy = pg + n * image_out;  // (F, P)
        if (want_w) {
            float* sum = sum_size ? sums.data() + worker * sum_size : gw;
            if (for_w == ConvAlgorithm::winograd) {
                winograd_weight_grad_image(forward, xn, dy, sum, scratch, gemm);
            } else if (for_w == ConvAlgorithm::direct) {
                direct_weight_grad_image(direct_forward, xn, dy, sum, scratch);
            } else {
                im2col(g, xn, scratch);
                gemm(false, true, g.F, K, P, 1.0f, dy, scratch, 1.0f, sum);
            }
        }
        if (want_x) {
            float* dx = gx.data + n * image_in;
            if (for_x == ConvAlgorithm::winograd) {
                winograd_conv_image(flipped, kernel_x.data(), dy, dx, gx.accumulate, scratch, gemm);
            } else if (for_x == ConvAlgorithm::direct) {
                direct_conv_image(direct_flipped, kernel_x.data(), dy, dx, gx.accumulate, scratch);
            } else {
                gemm(true, false, K, P, g.F, 1.0f, pw, dy, 0.0f, scratch);  // dcols
                if (!gx.accumulate) std::fill_n(dx, image_in, 0.0f);
                col2im_add(g, scratch, dx);
            }
        }
    });
    // The workers' sums are added in thread order, so the same thread count gives the same bits.
    if (sum_size && for_w == ConvAlgorithm::winograd) {
        float* total = sums.data();
        for (int w = 1; w < workers; ++w)
            for (int64_t i = 0; i < sum_size; ++i) total[i] += sums.data()[w * sum_size + i];
        winograd_weight_grad_finish(total, g.F, g.C, gw);
    } else if (sum_size) {
        for (int w = 0; w < workers; ++w)
            for (int64_t i = 0; i < sum_size; ++i) gw[i] += sums.data()[w * sum_size + i];
    }
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int stride, int padding,
              ChannelSums* output_sums) {
    const ProfileScope profile("conv2d");
    const ConvGeometry g = conv_geometry(x, weight, bias, stride, padding);
    const int64_t P = g.P(), K = g.K(), image_in = g.C * g.H * g.W, image_out = g.F * P;
    Tensor y = Tensor::empty({g.N, g.F, g.Ho, g.Wo});
    const int workers = image_workers(g.N);
    const float* px = x.data();
    const float* pw = weight.data();
    float* py = y.data();
    const detail::Gemm gemm;  // the kernels, chosen here: not inside the parallel loop
    const ConvAlgorithm algorithm = conv_algorithm(g, ConvPass::forward);
    const WinogradShape shape{g.C, g.H, g.W, g.F, g.pad};
    const DirectShape direct_shape{g.C, g.H, g.W, g.F, g.pad};
    Tensor kernel;  // transformed (Winograd) or packed (direct)
    if (algorithm == ConvAlgorithm::winograd) {
        kernel = Tensor::empty({16, g.F, g.C});
        winograd_weights(pw, g.F, g.C, false, kernel.data());
    } else if (algorithm == ConvAlgorithm::direct) {
        kernel = Tensor::empty({direct_shape.F_blocks() * g.C * 9 * detail::kDirectBlock});
        direct_pack_weights(pw, g.F, g.C, false, kernel.data());
    }
    // Per worker: the cols (K, P) of im2col, Winograd's transformed tiles or direct's padded image.
    const int64_t scratch_size = algorithm == ConvAlgorithm::winograd ? shape.workspace()
                                 : algorithm == ConvAlgorithm::direct ? direct_shape.workspace()
                                                                      : K * P;
    Tensor scratch = Tensor::empty({workers, scratch_size});
    if (output_sums) {
        output_sums->output = py;
        output_sums->N = g.N;
        output_sums->C = g.F;
        output_sums->sums.resize(static_cast<size_t>(2 * g.N * g.F));
    }
    const auto image = [&](int64_t n, int worker) {
        float* work = scratch.data() + worker * scratch_size;
        float* yn = py + n * image_out;  // (F, P)
        if (bias.defined())  // start every row from its bias and add the convolution on top
            for (int64_t f = 0; f < g.F; ++f) std::fill_n(yn + f * P, P, bias.data()[f]);
        if (algorithm == ConvAlgorithm::winograd) {
            winograd_conv_image(shape, kernel.data(), px + n * image_in, yn, bias.defined(), work, gemm);
        } else if (algorithm == ConvAlgorithm::direct) {
            direct_conv_image(direct_shape, kernel.data(), px + n * image_in, yn, bias.defined(), work);
        } else {
            im2col(g, px + n * image_in, work);
            gemm(false, false, g.F, P, K, 1.0f, pw, work, bias.defined() ? 1.0f : 0.0f, yn);
        }
        if (output_sums)  // BatchNorm's row sums, shifted by image 0's first value per channel
            for (int64_t f = 0; f < g.F; ++f) {
                const detail::TwoSums r = detail::shifted_sums(yn + f * P, py[f * P], P);
                output_sums->sums[2 * (n * g.F + f)] = r.first;
                output_sums->sums[2 * (n * g.F + f) + 1] = r.second;
            }
    };
    // With sums, image 0 goes first: its outputs are the shifts of every other image's sums.
    const int64_t first = output_sums && g.N > 0 ? 1 : 0;
    if (first) image(0, 0);
    for_each_image(g.N - first, workers, [&](int64_t n, int worker) { image(first + n, worker); });

    if (Tape* tape = recording_tape({&x, &weight, &bias})) {
        tape->record("conv2d", {x, weight, bias}, y,
                     [x, weight, bias, g](const Tensor& gy) { conv2d_backward(g, x, weight, bias, gy); });
    }
    return y;
}

}  // namespace bnlab
