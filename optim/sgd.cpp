#include "optim/sgd.h"

#include <cmath>
#include <fmt/format.h>

#include "core/error.h"
#include "optim/check_option.h"

namespace bnlab {

namespace {

const SGDOptions& checked(const SGDOptions& o) {
    check_option(o.momentum >= 0 && std::isfinite(o.momentum), "SGD", "momentum", "finite and >= 0", o.momentum);
    check_option(o.dampening >= 0 && o.dampening <= 1, "SGD", "dampening", "in [0, 1]", o.dampening);
    check_option(o.weight_decay >= 0 && std::isfinite(o.weight_decay), "SGD", "weight_decay", "finite and >= 0",
                 o.weight_decay);
    if (o.nesterov && (o.momentum <= 0 || o.dampening != 0))
        throw Error(fmt::format("SGD: nesterov momentum requires momentum > 0 and dampening == 0, got momentum {} "
                                "and dampening {}",
                                o.momentum, o.dampening));
    return o;
}

}  // namespace

SGD::SGD(std::vector<Tensor> params, double lr, SGDOptions options)
    : Optimizer("SGD", std::move(params), lr,
                checked(options).momentum != 0 ? std::vector<std::string>{"momentum_buffer"} : std::vector<std::string>{},
                {{"momentum", exact(options.momentum)},
                 {"dampening", exact(options.dampening)},
                 {"nesterov", exact(options.nesterov)},
                 {"weight_decay", exact(options.weight_decay)}}),
      options_(options) {}

// Per element, in float with float-rounded coefficients, in the order torch 1.13's
// _single_tensor_sgd computes it (a + alpha * b for add(b, alpha)):
//   g = grad + lambda * theta                        (weight decay, when lambda != 0)
//   b = g                      on this param's first update,
//   b = mu * b + (1 - tau) * g  after that           (when mu != 0)
//   g = g + mu * b  (nesterov)  or  g = b
//   theta = theta - lr * g
void SGD::update(Tensor& param, const Tensor& grad, ParamState& state) {
    const auto weight_decay = static_cast<float>(options_.weight_decay);
    const auto momentum = static_cast<float>(options_.momentum);
    const auto new_weight = static_cast<float>(1.0 - options_.dampening);
    const auto neg_lr = static_cast<float>(-update_lr());
    const bool first_update = state.step == 1;
    float* theta = param.data();
    const float* g_in = grad.data();
    float* buffer = options_.momentum != 0 ? state.buffers[0].data() : nullptr;
    const int64_t n = param.numel();
    for (int64_t j = 0; j < n; ++j) {
        float g = g_in[j];
        if (options_.weight_decay != 0) g = g + weight_decay * theta[j];
        if (buffer) {
            buffer[j] = first_update ? g : buffer[j] * momentum + new_weight * g;
            g = options_.nesterov ? g + momentum * buffer[j] : buffer[j];
        }
        theta[j] = theta[j] + neg_lr * g;
    }
}

}  // namespace bnlab
