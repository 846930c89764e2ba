// A residual block (He et al. 2016): y = body(x) + shortcut(x).
//
// The shortcut has no weights: the identity when the body keeps x's shape, else He et al.'s
// "option A" for CIFAR ResNets: x subsampled with the body's stride (x[:, :, ::s, ::s]) and
// zero channels padded on both sides up to the body's channel count,
//   shortcut(x) = pad_channels(x[:, :, ::s, ::s], pad_before, pad_after).
// The activation after the sum is not part of the block (a spec writes it after: res(...)-relu).
#pragma once

#include "layers/module.h"

namespace bnlab {

class Residual : public Module {
public:
    // x: (N,C,H,W) -> body -> (N, pad_before + C + pad_after, ceil(H/stride), ceil(W/stride)),
    // or x: (N,F) -> body -> (N,F) with stride 1 and no padding.
    Residual(std::shared_ptr<Sequential> body, int stride = 1, int64_t pad_before = 0, int64_t pad_after = 0);
    Tensor forward(const Tensor& x) override;
    // relu(forward(x)) with the sum and the ReLU in one op (core/ops.h add_relu); Sequential
    // calls it for a Residual followed by a ReLU.
    Tensor forward_relu(const Tensor& x);
    std::string describe() const override;

    Sequential& body() const { return *body_; }
    // The shortcut alone (for summaries and tests).
    Tensor shortcut(const Tensor& x) const;

private:
    Tensor sum(const Tensor& x, bool relu_after);  // body(x) + shortcut(x), then the ReLU if asked

    std::shared_ptr<Sequential> body_;
    int stride_;
    int64_t pad_before_, pad_after_;
};

}  // namespace bnlab
