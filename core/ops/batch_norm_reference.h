// BatchNorm in plain loops: the version to read first, and the oracle the fused kernel
// (core/ops/batch_norm.cpp) is tested against (tests/test_batch_norm_teaching.cpp).
//
// Same contract as bnlab::batch_norm (core/ops.h), but written as the math reads: per
// channel, three loops forward (mean, variance, output) and three loops backward (the
// parameter gradients, the gradients of the mean and the variance, the input gradient), in
// double, no tape, no threads, no blocking. It is slow on purpose. docs/walkthrough.md follows
// it on real numbers; core/ops/batch_norm_composed.cpp builds the same function out of small
// ops so that the tape derives the backward instead.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace bnlab::reference {

// What the forward pass keeps for the backward pass (like llm.c's layernorm cache).
struct BatchNormSaved {
    std::vector<double> mean;  // (C) the mean used: the batch's, or running_mean in eval
    std::vector<double> rstd;  // (C) 1 / sqrt(var + eps) with the variance used
    bool batch_statistics;     // true in training: mean and var depend on x
};

struct BatchNormResult {
    Tensor y;  // same shape as x
    BatchNormSaved saved;
};

// x: (N,C) or (N,C,L) or (N,C,H,W); weight (gamma), bias (beta): (C) or undefined.
// training: batch statistics; running_mean/running_var (when defined) are updated in place
//   with momentum, running_var with the unbiased variance, as PyTorch does.
// not training: running_mean/running_var are the statistics (they must be defined).
BatchNormResult batch_norm_forward(const Tensor& x, Tensor running_mean, Tensor running_var, const Tensor& weight,
                                   const Tensor& bias, bool training, double momentum = 0.1, double eps = 1e-5);

struct BatchNormGrads {
    Tensor x;
    Tensor weight;  // d gamma; undefined if the forward had no weight
    Tensor bias;    // d beta = sum of dy per channel (use it when the forward had a bias)
};

// Given dy = d loss / d y, returns d loss / d x, d gamma, d beta.
BatchNormGrads batch_norm_backward(const Tensor& x, const Tensor& weight, const BatchNormSaved& saved,
                                   const Tensor& dy);

}  // namespace bnlab::reference
