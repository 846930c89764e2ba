// Direct 3x3 stride-1 convolution: the padded-row layout and the AVX2 register kernels (the
// math is in direct_conv.h).
#include "core/ops/direct_conv.h"

#include <immintrin.h>

#include <algorithm>

#include "core/cpu.h"

// The kernels are compiled for AVX2 + FMA whatever the build's flags (the build stays
// portable); they run only after direct_conv_supported() said yes.
#define BNLAB_AVX2 __attribute__((target("avx2,fma")))

namespace bnlab::detail {

namespace {

constexpr int kVectors = static_cast<int>(kDirectStrip / 8);  // 8-float vectors per strip
constexpr int kBlock = static_cast<int>(kDirectBlock);

// xp (C, plane): every channel of x (C, H, W) on rows of Wp floats with `pad` zeros around it,
// then zeros up to the end of the plane (the strips read past the last row).
void pad_input(const DirectShape& s, const float* x, float* xp) {
    const int64_t Wp = s.Wp(), plane = s.plane();
    for (int64_t c = 0; c < s.C; ++c) {
        float* dst = xp + c * plane;
        std::fill_n(dst, plane, 0.0f);
        for (int64_t h = 0; h < s.H; ++h) std::copy_n(x + (c * s.H + h) * s.W, s.W, dst + (h + s.pad) * Wp + s.pad);
    }
}

// One strip of kDirectStrip outputs of one block of kDirectBlock output channels:
//   out[k][q] = sum over c, i, j of w[k][c][i][j] xp[c][q + i*Wp + j],   q in the strip
// xp points at the strip's first output, out at row 0 of the block (rows Q floats apart).
BNLAB_AVX2 void conv_strip(const float* xp, int64_t plane, int64_t Wp, int64_t C, const float* w, float* out,
                           int64_t Q) {
    __m256 acc[kBlock][kVectors];
    for (auto& row : acc)
        for (__m256& a : row) a = _mm256_setzero_ps();
    for (int64_t c = 0; c < C; ++c, xp += plane, w += 9 * kBlock) {
#pragma GCC unroll 3
        for (int i = 0; i < 3; ++i) {
#pragma GCC unroll 3
            for (int j = 0; j < 3; ++j) {
                const float* src = xp + i * Wp + j;
                __m256 x[kVectors];
#pragma GCC unroll 3
                for (int v = 0; v < kVectors; ++v) x[v] = _mm256_loadu_ps(src + 8 * v);
#pragma GCC unroll 4
                for (int k = 0; k < kBlock; ++k) {
                    const __m256 wk = _mm256_broadcast_ss(w + (i * 3 + j) * kBlock + k);
#pragma GCC unroll 3
                    for (int v = 0; v < kVectors; ++v) acc[k][v] = _mm256_fmadd_ps(wk, x[v], acc[k][v]);
                }
            }
        }
    }
    for (int k = 0; k < kBlock; ++k)
        for (int v = 0; v < kVectors; ++v) _mm256_storeu_ps(out + k * Q + 8 * v, acc[k][v]);
}

BNLAB_AVX2 float horizontal_sum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// One kernel row i of one input channel c for a block of output channels:
//   dw[k][j] += sum over oh, ow of dy_rows[k][oh*Wo + ow] xrow[oh*Wp + ow + j],   j = 0, 1, 2
// xrow = xp[c] + i*Wp; Wo a multiple of 8. dy_rows: the block's kDirectBlock channel rows (a
// zero row for the missing channels of a last, partial block); dw[k][j] at dw + k*f_stride + j
// for the block's `valid` channels. Called on dy itself (output row oh pairs with padded input
// row oh + i), or on dy copied onto padded rows as one row of Q (Ho = 1, Wo = Q).
BNLAB_AVX2 void weight_grad_rows(const float* const* dy_rows, int64_t Ho, int64_t Wo, const float* xrow, int64_t Wp,
                                 float* dw, int64_t f_stride, int64_t valid) {
    __m256 acc[kBlock][3];
    for (auto& row : acc)
        for (__m256& a : row) a = _mm256_setzero_ps();
    for (int64_t oh = 0; oh < Ho; ++oh) {
        const float* xr = xrow + oh * Wp;
        for (int64_t q = 0; q < Wo; q += 8) {
            __m256 x[3];
#pragma GCC unroll 3
            for (int j = 0; j < 3; ++j) x[j] = _mm256_loadu_ps(xr + q + j);
#pragma GCC unroll 4
            for (int k = 0; k < kBlock; ++k) {
                const __m256 d = _mm256_loadu_ps(dy_rows[k] + oh * Wo + q);
#pragma GCC unroll 3
                for (int j = 0; j < 3; ++j) acc[k][j] = _mm256_fmadd_ps(d, x[j], acc[k][j]);
            }
        }
    }
    for (int64_t k = 0; k < valid; ++k)
        for (int j = 0; j < 3; ++j) dw[k * f_stride + j] += horizontal_sum(acc[k][j]);
}

}  // namespace

bool direct_conv_supported() { return cpu_features().avx2 && cpu_features().fma; }

void direct_pack_weights(const float* weight, int64_t F, int64_t C, bool flipped, float* packed) {
    const int64_t blocks = (F + kDirectBlock - 1) / kDirectBlock;
    for (int64_t b = 0; b < blocks; ++b)
        for (int64_t c = 0; c < C; ++c)
            for (int64_t ij = 0; ij < 9; ++ij)
                for (int64_t k = 0; k < kDirectBlock; ++k) {
                    const int64_t f = b * kDirectBlock + k;
                    float value = 0.0f;
                    if (f < F) value = flipped ? weight[(c * F + f) * 9 + (8 - ij)] : weight[(f * C + c) * 9 + ij];
                    packed[((b * C + c) * 9 + ij) * kDirectBlock + k] = value;
                }
}

void direct_conv_image(const DirectShape& s, const float* packed, const float* x, float* y, bool accumulate,
                       float* workspace) {
    const int64_t Q = s.Q(), plane = s.plane(), Wp = s.Wp(), Ho = s.Ho(), Wo = s.Wo();
    float* xp = workspace;
    float* out = workspace + s.C * plane;  // (F_blocks * kDirectBlock, Q)
    pad_input(s, x, xp);
    // Strips outside, blocks inside: a strip's input rows stay in L1 while every block reads them.
    for (int64_t q = 0; q < Q; q += kDirectStrip)
        for (int64_t b = 0; b < s.F_blocks(); ++b)
            conv_strip(xp + q, plane, Wp, s.C, packed + b * s.C * 9 * kDirectBlock, out + b * kDirectBlock * Q + q, Q);
    // Keep the first Wo outputs of every padded row.
    for (int64_t f = 0; f < s.F; ++f)
        for (int64_t oh = 0; oh < Ho; ++oh) {
            const float* src = out + f * Q + oh * Wp;
            float* dst = y + (f * Ho + oh) * Wo;
            if (accumulate)
                for (int64_t ow = 0; ow < Wo; ++ow) dst[ow] += src[ow];
            else
                std::copy_n(src, Wo, dst);
        }
}

void direct_weight_grad_image(const DirectShape& s, const float* x, const float* dy, float* dweight,
                              float* workspace) {
    const int64_t Q = s.Q(), plane = s.plane(), Wp = s.Wp(), Ho = s.Ho(), Wo = s.Wo();
    float* xp = workspace;
    float* dyp = workspace + s.C * plane;  // (F_blocks * kDirectBlock, Q): dy on padded rows, zeros elsewhere
    pad_input(s, x, xp);
    if (Wo % 8 == 0) {  // dy as it is; a row of zeros stands in for a partial block's missing channels
        const int64_t P = Ho * Wo;
        std::fill_n(dyp, P, 0.0f);
        for (int64_t b = 0; b < s.F_blocks(); ++b) {
            const int64_t valid = std::min(kDirectBlock, s.F - b * kDirectBlock);
            const float* rows[kBlock];
            for (int64_t k = 0; k < kDirectBlock; ++k) rows[k] = k < valid ? dy + (b * kDirectBlock + k) * P : dyp;
            for (int64_t c = 0; c < s.C; ++c)
                for (int64_t i = 0; i < 3; ++i)
                    weight_grad_rows(rows, Ho, Wo, xp + c * plane + i * Wp, Wp,
                                     dweight + ((b * kDirectBlock * s.C + c) * 3 + i) * 3, s.C * 9, valid);
        }
        return;
    }
    std::fill_n(dyp, s.F_blocks() * kDirectBlock * Q, 0.0f);
    for (int64_t f = 0; f < s.F; ++f)
        for (int64_t oh = 0; oh < Ho; ++oh) std::copy_n(dy + (f * Ho + oh) * Wo, Wo, dyp + f * Q + oh * Wp);
    for (int64_t b = 0; b < s.F_blocks(); ++b) {
        const int64_t valid = std::min(kDirectBlock, s.F - b * kDirectBlock);
        const float* rows[kBlock];
        for (int64_t k = 0; k < kDirectBlock; ++k) rows[k] = dyp + (b * kDirectBlock + k) * Q;
        for (int64_t c = 0; c < s.C; ++c)
            for (int64_t i = 0; i < 3; ++i)
                weight_grad_rows(rows, 1, Q, xp + c * plane + i * Wp, Wp,
                                 dweight + ((b * kDirectBlock * s.C + c) * 3 + i) * 3, s.C * 9, valid);
    }
}

}  // namespace bnlab::detail
