// Direct 3x3 stride-1 convolution for layers with few channels (internal to core/ops;
// conv.cpp chooses it).
//
// Why: im2col + sgemm spends 9C writes and reads per output pixel building cols, and the
// product then does only F multiply-adds per entry of cols. With F = 8 or 16 output channels
// (the plain CNNs and ResNet-20's first stage) that copy and sgemm's packing cost more than
// the arithmetic: measured 20-30 GFLOP/s on one core where the FMA units give ~100. A direct
// loop keeps the partial sums in registers and reads every input value straight from the
// (padded) image: no cols, no packing.
//
// The padded-row trick. Pad the input by `pad` on every side into rows of Wp = W + 2 pad
// floats, and lay the outputs out on rows of the same width: output q = oh*Wp + ow reads
//   xp[c][q + i*Wp + j]   for the kernel entry (i, j),
// a constant shift of q. The whole image is then one 1-D convolution over q with 9 shifts per
// channel, vectorized over q in long contiguous strips; only the last Wp - Wo = 2 pad columns
// of every output row are wasted (computed and dropped): 6% at 28x28, 20% at 8x8.
//
//   forward         y (F, Ho, Wo) = sum_c sum_ij w[f,c,i,j] xp[c][q + i*Wp + j]
//   input gradient  the same kernel on dy padded by 2 - pad, with w turned 180 degrees and
//                   its channel axes swapped (as in winograd.h)
//   weight grad.    dw[f,c,i,j] += sum_q dyp[f][q] xp[c][q + i*Wp + j], dyp = dy on rows of
//                   Wp with zeros in the dropped columns; where Wo is a multiple of 8, dy is
//                   read in place instead, row by row (output row oh against input row oh + i):
//                   no copy (cifar-cnn 32@32x32: 54-77 -> 69-86 GFLOP/s, bench_conv, 1 thread)
//
// The kernels are AVX2 + FMA (compiled for that with a target attribute, run only where
// cpu_features() says the CPU has it); reference::conv2d is the plain loop they are tested
// against. A register block is 4 output channels x 24 outputs (12 accumulators of 8 floats):
// per kernel entry 3 loads of x and 4 broadcast weights feed 12 FMAs.
#pragma once

#include <cstdint>

namespace bnlab::detail {

// Outputs per register strip, and output channels per register block.
inline constexpr int64_t kDirectStrip = 24, kDirectBlock = 4;

struct DirectShape {
    int64_t C, H, W;  // input channels and size
    int64_t F;        // output channels
    int64_t pad;      // on every side; Ho = H + 2 pad - 2, Wo = W + 2 pad - 2
    int64_t Ho() const { return H + 2 * pad - 2; }
    int64_t Wo() const { return W + 2 * pad - 2; }
    int64_t Wp() const { return W + 2 * pad; }
    // Outputs on padded rows, rounded up to whole strips.
    int64_t Q() const { return (Ho() * Wp() + kDirectStrip - 1) / kDirectStrip * kDirectStrip; }
    // One padded input channel: the strips read up to Q - 1 + 2 Wp + 2.
    int64_t plane() const { return Q() + 2 * Wp() + 8; }
    int64_t F_blocks() const { return (F + kDirectBlock - 1) / kDirectBlock; }
    // Floats of scratch one image needs: the padded input and the outputs on padded rows.
    int64_t workspace() const { return C * plane() + F_blocks() * kDirectBlock * Q(); }
};

// Whether this CPU runs the kernels (AVX2 and FMA).
bool direct_conv_supported();

// Where the direct loop beats im2col and Winograd (measured on one core, batch 64, bench_conv;
// bench/results_notes.md "Direct 3x3"): a pass that sums over k_channels input channels into
// out_channels outputs. With 16 channels or fewer it runs 1.5-3x faster than either (e.g.
// ResNet-20's 16@32x32 weight gradient 61 GFLOP/s vs 22 and 19); at 32 it is level with the
// better of the two; from 64 on the products are big enough for sgemm and Winograd wins.
inline bool direct_pays(int64_t k_channels, int64_t out_channels) { return k_channels <= 32 && out_channels <= 32; }

// The weights in the kernel's order, (F_blocks, C, 9, kDirectBlock) with zeros for the
// missing channels of the last block: F_blocks() * C * 36 floats. flipped: the kernel of the
// input gradient from a weight stored (C, F, 3, 3), turned 180 degrees (as winograd_weights).
void direct_pack_weights(const float* weight, int64_t F, int64_t C, bool flipped, float* packed);

// One image: x (C, H, W) -> y (F, Ho, Wo), written (accumulate = false) or added to.
void direct_conv_image(const DirectShape& shape, const float* packed, const float* x, float* y, bool accumulate,
                       float* workspace);

// One image's weight gradient: dweight (F, C, 3, 3) += its share. x (C, H, W), dy (F, Ho, Wo);
// workspace of shape.workspace() floats.
void direct_weight_grad_image(const DirectShape& shape, const float* x, const float* dy, float* dweight,
                              float* workspace);

}  // namespace bnlab::detail
