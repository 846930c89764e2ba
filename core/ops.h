// Every differentiable op bnlab has. Each lives in the core/ops/<file>.cpp named in its
// section below, with its forward and backward next to each other. Shapes in comments:
// N batch, C channels, H x W image.
//
// An op records itself on the active tape (core/tape.h) when one of its inputs requires
// grad; otherwise it only computes. Bad shapes throw ShapeError naming the op and shapes.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/tensor.h"

namespace bnlab {

class Collective;
class Generator;

// --- elementwise.cpp: arithmetic with broadcasting -------------------------------------
// NumPy broadcasting: shapes are aligned from the right; a dimension of 1 (or a missing
// one) stretches to match. E.g. (N,C,H,W) + (1,C,1,1) adds a per-channel value, and
// (N,F) + (F) adds a bias to every row. The backward sums the gradient over the
// stretched dimensions.
Tensor add(const Tensor& a, const Tensor& b);
// relu(a + b) for a and b of one shape (a residual block's sum and the ReLU after it), bit for
// bit, in one pass forward and one backward (no broadcasting: ShapeError otherwise).
Tensor add_relu(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
// With a scalar: y = x + s, y = x * s.
Tensor add(const Tensor& x, float s);
Tensor mul(const Tensor& x, float s);
Tensor neg(const Tensor& x);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator+(const Tensor& x, float s) { return add(x, s); }
inline Tensor operator+(float s, const Tensor& x) { return add(x, s); }
inline Tensor operator-(const Tensor& x, float s) { return add(x, -s); }
inline Tensor operator-(float s, const Tensor& x) { return add(neg(x), s); }
inline Tensor operator*(const Tensor& x, float s) { return mul(x, s); }
inline Tensor operator*(float s, const Tensor& x) { return mul(x, s); }
inline Tensor operator/(const Tensor& x, float s) { return mul(x, 1.0f / s); }
inline Tensor operator-(const Tensor& x) { return neg(x); }

// The shape a op(a, b) broadcast produces; ShapeError (naming `op`) if they do not fit
// (broadcast.cpp).
Shape broadcast_shape(const char* op, const Shape& a, const Shape& b);

// --- matmul.cpp: products through OpenBLAS sgemm ----------------------------------------
// a: (M,K), b: (K,N) -> (M,N)
Tensor matmul(const Tensor& a, const Tensor& b);
// x: (N,in), weight: (out,in), bias: (out) or undefined -> (N,out) = x weight^T + bias
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// --- reduce.cpp -------------------------------------------------------------------------
Tensor sum(const Tensor& x);   // all elements -> 0-d
Tensor mean(const Tensor& x);  // all elements -> 0-d
// Along one dimension (negative counts from the end); keepdim leaves it as size 1.
Tensor sum(const Tensor& x, int dim, bool keepdim = false);
Tensor mean(const Tensor& x, int dim, bool keepdim = false);

// --- view.cpp: views sharing storage ----------------------------------------------------
// One dimension of `shape` may be -1: it is inferred from the element count.
Tensor reshape(const Tensor& x, const Shape& shape);
// Collapses dimensions start_dim..end into one: (N,C,H,W) -> (N, C*H*W) for start_dim 1.
Tensor flatten(const Tensor& x, int start_dim = 1);

// --- activation.cpp: pointwise functions -----------------------------------------------
Tensor relu(const Tensor& x);     // max(x, 0)
Tensor sigmoid(const Tensor& x);  // 1 / (1 + e^-x)
Tensor tanh(const Tensor& x);
Tensor square(const Tensor& x);   // x^2
Tensor rsqrt(const Tensor& x);    // 1 / sqrt(x)

// --- softmax.cpp ------------------------------------------------------------------------
// log(softmax(x)) along `dim`, computed as x - max - log(sum(exp(x - max))).
Tensor log_softmax(const Tensor& x, int dim = -1);
// logits: (N,C), labels: N class indices in [0,C) -> 0-d mean over the batch of
// -log softmax(logits)[n, label_n]. Fused: one pass, numerically stable.
Tensor cross_entropy(const Tensor& logits, std::span<const int32_t> labels);

// --- conv.cpp ---------------------------------------------------------------------------
// x: (N,C,H,W), weight: (F,C,kh,kw), bias: (F) or undefined -> (N,F,Ho,Wo) with
// Ho = (H + 2*padding - kh) / stride + 1 (likewise Wo). One image at a time: im2col of image n,
// then one sgemm writes y[n]; threads take blocks of images.
// A BatchNorm's training statistics of a conv2d output, summed in the convolution's output
// pass (each image's output is still in cache) instead of in a pass of BN's own: conv2d fills
// it when given one, batch_norm* use it when given it for that same output. Per image n and
// channel c: sum (y - k_c) and sum (y - k_c)^2 over its H*W values, k_c = y[0, c, 0, 0], the
// shift BN takes itself. batch_norm adds them up over the images in order, as it would its
// own, so the statistics come out bit for bit the same. Reused across steps (no allocation).
struct ChannelSums {
    const float* output = nullptr;  // the data of the conv2d output they describe
    int64_t N = 0, C = 0;
    std::vector<double> sums;  // (N, C, 2)
};
// output_sums: also fill these (ChannelSums) while each image's output is in cache.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), int stride = 1,
              int padding = 0, ChannelSums* output_sums = nullptr);


// --- pool.cpp ---------------------------------------------------------------------------
// x: (N,C,H,W) -> (N,C,Ho,Wo), Ho = (H + 2*padding - kernel) / stride + 1. stride 0 means
// stride = kernel (PyTorch's default). Padding counts as -inf for max and as zeros for avg
// (count_include_pad, PyTorch's default).
Tensor max_pool2d(const Tensor& x, int kernel, int stride = 0, int padding = 0);
Tensor avg_pool2d(const Tensor& x, int kernel, int stride = 0, int padding = 0);
// x: (N,C,H,W) -> (N,C): the mean over H,W of each channel.
Tensor global_avg_pool2d(const Tensor& x);

// --- pad.cpp ----------------------------------------------------------------------------
// x: (N,C,*) -> (N, before + C + after, *): zero channels before and after x's channels (the
// parameter-free "option A" shortcut of CIFAR ResNets, after a stride-2 subsample).
Tensor pad_channels(const Tensor& x, int64_t before, int64_t after);

// --- dropout.cpp ------------------------------------------------------------------------
// Training: zero each element with probability p and scale the rest by 1/(1-p), drawing
// the mask from `gen`. Not training (or p == 0): the identity.
Tensor dropout(const Tensor& x, float p, bool training, Generator& gen);

// --- batch_norm.cpp ---------------------------------------------------------------------
// x: (N,C) or (N,C,L) or (N,C,H,W); statistics per channel c over every other dimension.
// training: normalize with the batch mean and biased variance; if running_mean/running_var
//   are defined, update them in place: running = (1-momentum)*running + momentum*batch_stat
//   (the unbiased variance for running_var).
// not training: normalize with running_mean/running_var (which must be defined).
// weight (gamma) and bias (beta) are (C) or undefined (no affine).
// This is the fused, tuned kernel. To learn BN read core/ops/batch_norm_reference.h (plain
// loops, the test oracle) and core/ops/batch_norm_composed.h (built from the ops above).
// conv_sums: the statistics conv2d summed for x (ChannelSums, above), used in training.
Tensor batch_norm(const Tensor& x, Tensor running_mean, Tensor running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum = 0.1, double eps = 1e-5,
                  const ChannelSums* conv_sums = nullptr);
// relu(batch_norm(...)), bit for bit, in batch_norm's passes (no separate ReLU pass forward or
// backward). A Sequential runs a BatchNorm followed by a ReLU through it (layers/module.h).
Tensor batch_norm_relu(const Tensor& x, Tensor running_mean, Tensor running_var, const Tensor& weight,
                       const Tensor& bias, bool training, double momentum = 0.1, double eps = 1e-5,
                       const ChannelSums* conv_sums = nullptr);
// max_pool2d(relu(batch_norm(...)), 2, 2), bit for bit, without the full-size ReLU output in
// memory forward or the pool's full-size gradient backward. x: (N,C,H,W) -> (N,C,H/2,W/2).
// A Sequential runs BatchNorm, ReLU, MaxPool2d(2) through it.
Tensor batch_norm_relu_max_pool2d(const Tensor& x, Tensor running_mean, Tensor running_var, const Tensor& weight,
                                  const Tensor& bias, bool training, double momentum = 0.1, double eps = 1e-5,
                                  const ChannelSums* conv_sums = nullptr);

// --- batch_norm_grouped.cpp: training-mode batch_norm with other statistics ------------
// Same arguments and running-statistics update as batch_norm in training, but:
// ghost_batch_norm: x is split along N into ghost batches of ghost_batch_size samples (the last
//   may be smaller), each normalized with its own mean and variance (Hoffer et al. 2017);
//   running statistics move once per call, towards the mean over ghost batches of their means
//   and unbiased variances. Equals per-rank BatchNorm on ceil(N/ghost_batch_size) ranks.
// sync_batch_norm: statistics over the batches of every rank of `group` together (PyTorch's
//   SyncBatchNorm): equals batch_norm on the concatenation of the ranks' batches. Every rank
//   must call it, in forward and (when it records) in backward: each allreduces per channel.
// Neither has an evaluation mode: evaluate with batch_norm (running statistics).
Tensor ghost_batch_norm(const Tensor& x, Tensor running_mean, Tensor running_var, const Tensor& weight,
                        const Tensor& bias, int64_t ghost_batch_size, double momentum = 0.1, double eps = 1e-5);
Tensor sync_batch_norm(const Tensor& x, Tensor running_mean, Tensor running_var, const Tensor& weight,
                       const Tensor& bias, Collective& group, double momentum = 0.1, double eps = 1e-5);

// --- layer_group_norm.cpp: layer_norm and group_norm ------------------------------------
// Normalizes over the last `normalized_ndim` dimensions of x, per leading index.
// weight and bias have those trailing dimensions' shape, or are undefined.
Tensor layer_norm(const Tensor& x, int normalized_ndim, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);

// x: (N,C,*): C channels in num_groups groups; statistics per (n, group) over the group's
// channels and all spatial positions. weight, bias: (C) or undefined.
Tensor group_norm(const Tensor& x, int num_groups, const Tensor& weight = Tensor(), const Tensor& bias = Tensor(),
                  double eps = 1e-5);

}  // namespace bnlab
