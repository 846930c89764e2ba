// Winograd F(2x2, 3x3) convolution (Lavin & Gray 2016, "Fast Algorithms for Convolutional
// Neural Networks"), for 3x3 stride-1 layers (internal to core/ops; conv.cpp chooses it).
//
// Each 2x2 block of outputs ("tile") of one output channel f is computed from the 4x4 input
// patch d under it (rows 2ty - pad .. +3, columns 2tx - pad .. +3, 0 outside the image):
//   y_tile = A^T [ sum_c (G g_fc G^T) ⊙ (B^T d_c B) ] A
// with g_fc the 3x3 kernel and the fixed matrices
//   B^T = | 1  0 -1  0 |     G = | 1    0    0  |     A^T = | 1  1  1  0 |
//         | 0  1  1  0 |         | 1/2  1/2  1/2|           | 0  1 -1 -1 |
//         | 0 -1  1  0 |         | 1/2 -1/2  1/2|
//         | 0  1  0 -1 |         | 0    0    1  |
// The sum over c at each of the 16 positions xi of the 4x4 products is a matrix product:
//   M[xi] (F, T) = U[xi] (F, C) V[xi] (C, T),  U = G g G^T per (f, c),  V = B^T d B per (c, tile)
// so a layer is 16 sgemms of F x C x T (T tiles) where im2col runs one of F x 9C x 4T: 2.25x
// fewer multiply-adds, plus the transforms (a few adds per value).
//
// The gradient with respect to the input is the same kind of convolution: of dy, with the
// kernel turned 180 degrees and its two channel axes swapped, and padding 2 - pad
// (dx[c,h,w] = sum_f sum_ij dy[f, h+pad-i, w+pad-j] w[f,c,i,j]); winograd_weights(flipped)
// makes that kernel's U. The weight gradient is the transposed algorithm (below).
#pragma once

#include <atomic>
#include <cstdint>

#include "core/ops/blas.h"

namespace bnlab::detail {

// How conv2d computes a 3x3 stride-1 layer (its forward, input gradient and weight gradient,
// each on its own). automatic: the direct loop where direct_pays (direct_conv.h), else Winograd
// where winograd_pays, else im2col. Tests and benchmarks force one with ScopedConvAlgorithm
// (direct falls back to im2col on a CPU without AVX2).
enum class ConvAlgorithm { automatic, im2col, winograd, direct };

// Winograd's 16 products have K = the input channels of the convolution they compute (C in
// forward, F for the input gradient) and N = its tiles, where im2col's one product has K = 9C
// and N = 4 tiles: smaller products, which run further below the sgemm peak. Measured on one
// core (bench/results_notes.md, "Winograd"): Winograd is faster from K = 64 on, and from K = 32
// with at least 64 tiles (16x16 outputs); slower at K = 32 with 49 tiles (14x14), and for the
// 3-channel first layers.
inline bool winograd_pays(int64_t k_channels, int64_t tiles) {
    return k_channels >= 64 || (k_channels >= 32 && tiles >= 64);
}
// The weight gradient's 16 products are F x C x T (K = the tiles), next to the transforms of x
// and dy. Measured the same way (per image, one core, against im2col + its product): faster at
// 32x32 outputs (256 tiles) and at 16x16 with 64 input channels; slower or even at 16x16 with 32
// channels, 14x14 and 8x8.
inline bool winograd_pays_for_weights(int64_t channels, int64_t tiles) {
    return tiles >= 256 || (channels >= 64 && tiles >= 64);
}

// conv2d's three passes, each choosing its algorithm on its own.
enum class ConvPass { forward, input_gradient, weight_gradient };

// The automatic choice for one pass of a 3x3 stride-1 convolution (padding <= 2) whose images
// are spread over the threads (conv2d checks those conditions first): the direct loop where
// direct_pays and the CPU runs it, else Winograd where it pays, else im2col. C, F: the layer's
// input and output channels; output_tiles, input_tiles: its 2x2 tiles of y and of x. Defined in
// conv.cpp; bench_conv reports it.
ConvAlgorithm automatic_3x3_algorithm(ConvPass pass, int64_t C, int64_t F, int64_t output_tiles, int64_t input_tiles);

inline std::atomic<ConvAlgorithm>& conv_algorithm_override() {
    static std::atomic<ConvAlgorithm> value{ConvAlgorithm::automatic};
    return value;
}

struct ScopedConvAlgorithm {
    explicit ScopedConvAlgorithm(ConvAlgorithm a) { conv_algorithm_override().store(a); }
    ~ScopedConvAlgorithm() { conv_algorithm_override().store(ConvAlgorithm::automatic); }
    ScopedConvAlgorithm(const ScopedConvAlgorithm&) = delete;
    ScopedConvAlgorithm& operator=(const ScopedConvAlgorithm&) = delete;
};

struct WinogradShape {
    int64_t C, H, W;  // input channels and size
    int64_t F;        // output channels
    int64_t pad;      // on every side; output Ho = H + 2 pad - 2, Wo = W + 2 pad - 2
    int64_t Ho() const { return H + 2 * pad - 2; }
    int64_t Wo() const { return W + 2 * pad - 2; }
    int64_t tiles_h() const { return (Ho() + 1) / 2; }
    int64_t tiles_w() const { return (Wo() + 1) / 2; }
    int64_t T() const { return tiles_h() * tiles_w(); }
    // The 16 matrices of V (C, T) and M (F, T) lie this many floats apart: their size plus 16,
    // because 16 streams a power of two apart (32 KB for C = 32, T = 256) fall in the same
    // cache sets and evict each other in the transforms.
    int64_t v_stride() const { return C * T() + 16; }
    int64_t m_stride() const { return F * T() + 16; }
    // The transforms' rows for one row of tiles: 20 of tiles_w() + 2 floats (winograd.cpp).
    int64_t row_scratch() const { return 20 * (tiles_w() + 2); }
    // Floats of scratch one image needs: V, M and the rows.
    int64_t workspace() const { return 16 * (v_stride() + m_stride()) + row_scratch(); }
};

// U (16, F, C) from weight (F, C, 3, 3). flipped: the kernel of the input gradient, from a
// weight stored (C, F, 3, 3) (the layer's weight as (F_layer, C_layer)): U[xi][f][c] is the
// transform of w[c][f] turned 180 degrees.
void winograd_weights(const float* weight, int64_t F, int64_t C, bool flipped, float* U);

// One image: x (C, H, W) -> y (F, Ho, Wo), written (accumulate = false) or added to.
// U from winograd_weights; workspace of shape.workspace() floats.
void winograd_conv_image(const WinogradShape& shape, const float* U, const float* x, float* y, bool accumulate,
                         float* workspace, const Gemm& gemm);

// The weight gradient, F(3x3, 2x2) by the transposition of the forward:
//   dW_fc = G^T [ sum over tiles of (A dy_f A^T) ⊙ (B^T d_c B) ] G,   A = (A^T)^T (4x2)
// The sum over an image's tiles is 16 products Mw[xi] (F, C) += D[xi] (F, T) V[xi]^T.
// One image: adds its share to Mw (16, F, C); workspace of shape.workspace() floats.
void winograd_weight_grad_image(const WinogradShape& shape, const float* x, const float* dy, float* Mw,
                                float* workspace, const Gemm& gemm);
// dweight (F, C, 3, 3) += G^T Mw G, once the images are summed into Mw.
void winograd_weight_grad_finish(const float* Mw, int64_t F, int64_t C, float* dweight);

}  // namespace bnlab::detail
