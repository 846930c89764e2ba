// BatchNorm as a composition of ops: each line below records one or more tape entries, and
// Tape::backward runs their backwards in reverse, which is the chain rule. Compare the
// hand-derived backward in batch_norm_reference.cpp, term by term:
//
//   mu      = mean(x)              tape: mean, mean, mean      (over N, H, W; keepdim)
//   xc      = x - mu               tape: sub   x is used twice (here and in mu), so x.grad
//                                              receives both paths: the direct one and the
//                                              one through mu (the "dmu / M" term)
//   var     = mean(square(xc))     tape: square, mean, ...     (the "dvar" term)
//   rstd    = rsqrt(var + eps)     tape: add_scalar, rsqrt     (d rstd/d var = -rstd^3 / 2)
//   xhat    = xc * rstd            tape: mul   rstd broadcasts over N, H, W, so its gradient
//                                              is summed over them
//   y       = xhat * gamma + beta  tape: reshape, mul, reshape, add
//
// Shapes for x (N,C,H,W): mu, var, rstd are (1,C,1,1); gamma and beta are viewed as (1,C,1,1)
// so that broadcasting lines them up with the channel dimension.
#include "core/ops/batch_norm_composed.h"

#include "core/error.h"
#include "core/ops.h"

namespace bnlab {

namespace {

// The mean over every dimension but the channels (dim 1), each kept as size 1:
// (N,C,H,W) -> (1,C,1,1), (N,C) -> (1,C). A mean of means is the mean here, since every
// inner mean averages the same number of values.
Tensor channel_mean(const Tensor& t) {
    Tensor m = t;
    for (int d = t.ndim() - 1; d >= 0; --d)
        if (d != 1) m = mean(m, d, /*keepdim=*/true);
    return m;
}

// (C) viewed as (1,C,1,...) with x's number of dimensions.
Tensor as_channel_vector(const Tensor& p, const Tensor& x) {
    Shape shape;
    for (int d = 0; d < x.ndim(); ++d) shape.push_back(d == 1 ? x.dim(1) : 1);
    return reshape(p, shape);
}

}  // namespace

Tensor batch_norm_composed(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
    if (x.ndim() < 2) throw ShapeError("batch_norm_composed: input must be (N,C,...), got " + x.shape().str());
    const Tensor mu = channel_mean(x);
    const Tensor centered = x - mu;
    const Tensor var = channel_mean(square(centered));  // biased: divides by N*H*W
    const Tensor rstd = rsqrt(var + static_cast<float>(eps));
    Tensor y = centered * rstd;  // xhat
    if (weight.defined()) y = y * as_channel_vector(weight, x);
    if (bias.defined()) y = y + as_channel_vector(bias, x);
    return y;
}

}  // namespace bnlab
