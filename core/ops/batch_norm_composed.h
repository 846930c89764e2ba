// BatchNorm built from small ops (mean, sub, square, rsqrt, mul, add), so the tape derives its
// backward: no hand-written gradient at all. It computes what batch_norm(x, {}, {}, weight,
// bias, training = true) computes, more slowly (each op is a pass over memory and a tape
// entry), and tests/test_batch_norm_teaching.cpp checks that the tape's gradients agree with
// the hand-derived backward of the fused kernel (core/ops/batch_norm.cpp) and of the plain
// loops (core/ops/batch_norm_reference.cpp). For learning, not for training.
#pragma once

#include "core/tensor.h"

namespace bnlab {

// x: (N,C) or (N,C,L) or (N,C,H,W); weight (gamma), bias (beta): (C) or undefined.
// Training-mode BatchNorm with batch statistics; no running statistics.
Tensor batch_norm_composed(const Tensor& x, const Tensor& weight = Tensor(), const Tensor& bias = Tensor(),
                           double eps = 1e-5);

}  // namespace bnlab
