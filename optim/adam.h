// Adam and AdamW, PyTorch's torch.optim.Adam / AdamW (torch 1.13, single-tensor path) to the
// letter: bias-corrected moments, eps added after the square root, optional AMSGrad (the
// running maximum of the raw second moment). Adam adds weight decay to the gradient (L2);
// AdamW decays the parameter itself before the update (decoupled). See optim/README.md.
//
//   AdamW optimizer(model.parameters(), 1e-3, {.weight_decay = 0.05});
#pragma once

#include <optional>

#include "optim/optimizer.h"

namespace bnlab {

struct AdamOptions {
    double beta1 = 0.9;    // in [0, 1): decay of the first moment m
    double beta2 = 0.999;  // in [0, 1): decay of the second moment v
    double eps = 1e-8;     // > 0, added to sqrt(v_hat) in the denominator
    std::optional<double> weight_decay = std::nullopt;  // >= 0; unset: 0 for Adam, 1e-2 for AdamW (PyTorch's defaults)
    bool amsgrad = false;  // divide by the largest v seen so far instead of the current v
};

class Adam : public Optimizer {
public:
    Adam(std::vector<Tensor> params, double lr = 1e-3, AdamOptions options = {});
    // The options in use; weight_decay is always set.
    const AdamOptions& options() const { return options_; }

protected:
    // For AdamW: decoupled weight decay and its own default.
    Adam(std::string name, std::vector<Tensor> params, double lr, AdamOptions options, double default_weight_decay,
         bool decoupled_weight_decay);
    void update(Tensor& param, const Tensor& grad, ParamState& state) override;

private:
    AdamOptions options_;
    bool decoupled_weight_decay_;
};

class AdamW : public Adam {
public:
    AdamW(std::vector<Tensor> params, double lr = 1e-3, AdamOptions options = {});
};

}  // namespace bnlab
