#include "optim/clip_grad.h"

#include <cmath>

#include "optim/check_option.h"

namespace bnlab {

double clip_grad_norm(std::span<const Tensor> params, double max_norm) {
    check_option(max_norm >= 0, "clip_grad_norm", "max_norm", ">= 0", max_norm);
    // total^2 = sum_p sum_j g_pj^2, accumulated in double
    double sum_of_squares = 0.0;
    for (const Tensor& param : params) {
        const Tensor grad = param.grad();
        if (!grad.defined()) continue;
        for (float g : grad.values()) sum_of_squares += static_cast<double>(g) * g;
    }
    const double total = std::sqrt(sum_of_squares);
    if (!std::isfinite(total)) return total;
    // PyTorch forms the coefficient in float: max_norm / (total + 1e-6), applied when < 1.
    const float coefficient = static_cast<float>(max_norm) / (static_cast<float>(total) + 1e-6f);
    if (coefficient >= 1.0f) return total;
    for (const Tensor& param : params) {
        Tensor grad = param.grad();
        if (!grad.defined()) continue;
        for (float& g : grad.values()) g *= coefficient;
    }
    return total;
}

}  // namespace bnlab
