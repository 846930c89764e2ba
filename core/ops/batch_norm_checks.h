// Argument checks shared by batch_norm (batch_norm.cpp) and its ghost and synchronized
// variants (batch_norm_grouped.cpp) (internal).
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace bnlab::detail {

// x: (N,C,*) viewed as (N, C, S); M = N*S values per channel.
struct BatchNormDims {
    int64_t N, C, S, M;
};

// ShapeError/Error, each message starting with `op`, unless x is (N,C,...), weight, bias,
// running_mean and running_var are (C) or undefined (the running pair together), and momentum
// is in [0, 1]. Returns x's dimensions.
BatchNormDims check_batch_norm_args(const char* op, const Tensor& x, const Tensor& running_mean,
                                    const Tensor& running_var, const Tensor& weight, const Tensor& bias,
                                    double momentum);

}  // namespace bnlab::detail
