// Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay,
// PyTorch's torch.optim.SGD rule to the letter (see optim/README.md for the math).
//
//   SGD optimizer(model.parameters(), 0.1, {.momentum = 0.9, .weight_decay = 5e-4});
#pragma once

#include "optim/optimizer.h"

namespace bnlab {

struct SGDOptions {
    double momentum = 0.0;      // mu >= 0; 0 keeps no buffer
    double dampening = 0.0;     // tau in [0, 1]: the new gradient enters the buffer with weight 1 - tau
    bool nesterov = false;      // needs momentum > 0 and dampening == 0, as in PyTorch
    double weight_decay = 0.0;  // lambda >= 0: an L2 term lambda * theta added to the gradient
};

class SGD : public Optimizer {
public:
    SGD(std::vector<Tensor> params, double lr, SGDOptions options = {});
    const SGDOptions& options() const { return options_; }

protected:
    void update(Tensor& param, const Tensor& grad, ParamState& state) override;

private:
    SGDOptions options_;
};

}  // namespace bnlab
