#include "layers/residual.h"

#include <fmt/format.h>

#include "core/error.h"
#include "core/ops.h"

namespace bnlab {

Residual::Residual(std::shared_ptr<Sequential> body, int stride, int64_t pad_before, int64_t pad_after)
    : body_(std::move(body)), stride_(stride), pad_before_(pad_before), pad_after_(pad_after) {
    if (stride < 1 || pad_before < 0 || pad_after < 0)
        throw Error(fmt::format("Residual: need stride >= 1 and padding >= 0, got stride {}, padding {} and {}", stride,
                                pad_before, pad_after));
    register_module("body", body_);
}

Tensor Residual::shortcut(const Tensor& x) const {
    // A 1x1 average pool with stride s is x[:, :, ::s, ::s] exactly (each window holds one value).
    const Tensor subsampled = stride_ > 1 ? avg_pool2d(x, 1, stride_) : x;
    return pad_before_ + pad_after_ > 0 ? pad_channels(subsampled, pad_before_, pad_after_) : subsampled;
}

Tensor Residual::forward(const Tensor& x) { return sum(x, false); }

Tensor Residual::forward_relu(const Tensor& x) { return sum(x, true); }

Tensor Residual::sum(const Tensor& x, bool relu_after) {
    const Tensor y = body_->forward(x);
    const Tensor s = shortcut(x);
    if (y.shape() != s.shape())
        throw ShapeError(fmt::format("Residual: body output {} does not match the shortcut's {} (input {})", y.shape().str(),
                                     s.shape().str(), x.shape().str()));
    return relu_after ? add_relu(y, s) : y + s;
}

std::string Residual::describe() const {
    if (stride_ == 1 && pad_before_ + pad_after_ == 0) return "Residual(shortcut=identity)";
    return fmt::format("Residual(shortcut=subsample {} + zero channels {}+{})", stride_, pad_before_, pad_after_);
}

}  // namespace bnlab
