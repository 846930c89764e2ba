#include "optim/adam.h"

#include <cmath>

#include "optim/check_option.h"

namespace bnlab {

namespace {

AdamOptions checked(const char* who, AdamOptions o, double default_weight_decay) {
    o.weight_decay = o.weight_decay.value_or(default_weight_decay);
    check_option(o.beta1 >= 0 && o.beta1 < 1, who, "beta1", "in [0, 1)", o.beta1);
    check_option(o.beta2 >= 0 && o.beta2 < 1, who, "beta2", "in [0, 1)", o.beta2);
    check_option(o.eps > 0 && std::isfinite(o.eps), who, "eps", "finite and > 0", o.eps);
    check_option(*o.weight_decay >= 0 && std::isfinite(*o.weight_decay), who, "weight_decay", "finite and >= 0",
                 *o.weight_decay);
    return o;
}

std::vector<std::string> buffer_names(bool amsgrad) {
    if (amsgrad) return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
    return {"exp_avg", "exp_avg_sq"};
}

}  // namespace

Adam::Adam(std::vector<Tensor> params, double lr, AdamOptions options)
    : Adam("Adam", std::move(params), lr, options, 0.0, false) {}

AdamW::AdamW(std::vector<Tensor> params, double lr, AdamOptions options)
    : Adam("AdamW", std::move(params), lr, options, 1e-2, true) {}

Adam::Adam(std::string name, std::vector<Tensor> params, double lr, AdamOptions options, double default_weight_decay,
           bool decoupled_weight_decay)
    : Optimizer(name, std::move(params), lr, buffer_names(options.amsgrad),
                {{"beta1", exact(options.beta1)},
                 {"beta2", exact(options.beta2)},
                 {"eps", exact(options.eps)},
                 {"weight_decay", exact(options.weight_decay.value_or(default_weight_decay))},
                 {"amsgrad", exact(options.amsgrad)}}),
      options_(checked(this->name().c_str(), options, default_weight_decay)),
      decoupled_weight_decay_(decoupled_weight_decay) {}

// Per element at this parameter's update t, as torch 1.13's _single_tensor_adam(w) does it:
// scalars in double, then rounded to float; tensor math in float.
//   theta = theta * (1 - lr * lambda)                      (AdamW only)
//   g = grad + lambda * theta                              (Adam only, when lambda != 0)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   v_max = max(v_max, v); use v_max instead of v           (amsgrad)
//   denom = sqrt(v) / sqrt(1 - beta2^t) + eps
//   theta = theta - (lr / (1 - beta1^t)) * m / denom
void Adam::update(Tensor& param, const Tensor& grad, ParamState& state) {
    const double bias_correction1 = 1.0 - std::pow(options_.beta1, static_cast<double>(state.step));
    const double bias_correction2 = 1.0 - std::pow(options_.beta2, static_cast<double>(state.step));
    const auto neg_step_size = static_cast<float>(-(update_lr() / bias_correction1));
    const auto bias_correction2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
    const double weight_decay = *options_.weight_decay;
    const auto decay_factor = static_cast<float>(1.0 - update_lr() * weight_decay);
    const auto l2 = static_cast<float>(weight_decay);
    const auto beta1 = static_cast<float>(options_.beta1), new1 = static_cast<float>(1.0 - options_.beta1);
    const auto beta2 = static_cast<float>(options_.beta2), new2 = static_cast<float>(1.0 - options_.beta2);
    const auto eps = static_cast<float>(options_.eps);
    const bool l2_decay = !decoupled_weight_decay_ && weight_decay != 0;

    float* theta = param.data();
    const float* g_in = grad.data();
    float* m = state.buffers[0].data();
    float* v = state.buffers[1].data();
    float* v_max = options_.amsgrad ? state.buffers[2].data() : nullptr;
    const int64_t n = param.numel();
    for (int64_t j = 0; j < n; ++j) {
        if (decoupled_weight_decay_) theta[j] = theta[j] * decay_factor;
        const float g = l2_decay ? g_in[j] + l2 * theta[j] : g_in[j];
        m[j] = m[j] * beta1 + new1 * g;
        v[j] = v[j] * beta2 + new2 * g * g;
        float v_used = v[j];
        if (v_max) {
            if (std::isnan(v[j]) || v[j] > v_max[j]) v_max[j] = v[j];  // torch.maximum: NaN wins
            v_used = v_max[j];
        }
        const float denom = std::sqrt(v_used) / bias_correction2_sqrt + eps;
        theta[j] = theta[j] + neg_step_size * m[j] / denom;
    }
}

}  // namespace bnlab
