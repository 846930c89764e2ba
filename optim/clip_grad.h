// Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_ (norm_type 2).
#pragma once

#include <span>

#include "core/tensor.h"

namespace bnlab {

// total = sqrt(sum over every gradient element of g^2), over the params whose grad() is
// defined (the others are skipped). If total > max_norm, every gradient is scaled in place by
// max_norm / (total + 1e-6), PyTorch's coefficient; otherwise they are left as they are.
// Returns total, before clipping.
//
// A non-finite total (a NaN or infinite gradient) is returned and the gradients are left
// untouched: the caller decides (skip the step, stop the run). PyTorch would instead scale
// them by 0 or NaN. max_norm must be >= 0.
double clip_grad_norm(std::span<const Tensor> params, double max_norm);

}  // namespace bnlab
