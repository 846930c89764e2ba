// Plain reference versions of the optimized kernels in core/ops: the definitions, written as
// the math reads, with no tape, no threads, no blocking and sums in double. They are slow on
// purpose. tests/test_kernels.cpp checks every optimized kernel against them on random shapes
// (odd sizes, batch 1, channel counts that are not multiples of 8), forward and backward.
//
// Each *_backward returns d loss / d input (and weight, bias) for an output gradient gy.
// BatchNorm's plain version has a file of its own: core/ops/batch_norm_reference.h.
#pragma once

#include "core/tensor.h"

namespace bnlab::reference {

struct Grads {
    Tensor x, weight, bias;  // undefined where the op has no such input
};

// x (N,C,H,W), weight (F,C,kh,kw), bias (F) or undefined -> (N,F,Ho,Wo); a direct
// convolution: y[n,f,oh,ow] = bias[f] + sum over c,i,j of weight[f,c,i,j] x[n,c,oh*s-p+i,ow*s-p+j].
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int stride, int padding);
Grads conv2d_backward(const Tensor& x, const Tensor& weight, bool has_bias, int stride, int padding,
                      const Tensor& gy);

// Group norm of x (N,C,*) with `groups` groups; weight, bias: (C) or undefined.
Tensor group_norm(const Tensor& x, int groups, const Tensor& weight, const Tensor& bias, double eps);
Grads group_norm_backward(const Tensor& x, int groups, const Tensor& weight, double eps, const Tensor& gy);

// Layer norm over the last `normalized_ndim` dims; weight, bias: those dims' shape or undefined.
Tensor layer_norm(const Tensor& x, int normalized_ndim, const Tensor& weight, const Tensor& bias, double eps);
Grads layer_norm_backward(const Tensor& x, int normalized_ndim, const Tensor& weight, double eps, const Tensor& gy);

// Max pooling of x (N,C,H,W) with padding as -inf: the first NaN of a window wins, else its
// first largest value; backward routes each output's gradient to that element.
Tensor max_pool2d(const Tensor& x, int kernel, int stride, int padding);
Tensor max_pool2d_backward(const Tensor& x, int kernel, int stride, int padding, const Tensor& gy);

// max(x, 0), and its backward: gy where y > 0, else 0.
Tensor relu(const Tensor& x);
Tensor relu_backward(const Tensor& y, const Tensor& gy);

}  // namespace bnlab::reference
