// Which parameters a norm makes scale-invariant.
//
// The weight W of a Linear or Conv2d whose output feeds a norm directly (BatchNorm, LayerNorm,
// GroupNorm: the next layer of the same Sequential) does not change the network's function
// when scaled: norm(a W x) = norm(W x) for a > 0. Its gradient is orthogonal to W and shrinks
// as W grows, so a large learning rate grows W and lowers its own effective rate (Ioffe &
// Szegedy 2015 §3.3; van Laarhoven 2017). Every other parameter keeps the usual sensitivity:
// the last linear layer, biases, and the norms' own weight and bias. Experiments give the two
// groups different learning rates to see which one sets a network's highest stable rate.
#pragma once

#include <vector>

#include "layers/module.h"

namespace bnlab {

// One flag per entry of model.parameters(), in that order: true for a scale-invariant weight.
// Looks inside nested Sequentials and residual blocks' branches.
std::vector<bool> normalized_parameters(Module& model);

}  // namespace bnlab
