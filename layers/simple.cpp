#include "layers/simple.h"

#include <fmt/format.h>

#include "core/error.h"
#include "core/ops.h"

namespace bnlab {

namespace {
std::string pool_description(const char* kind, int kernel_size, int stride, int padding) {
    return fmt::format("{}(kernel_size={}, stride={}{})", kind, kernel_size, stride == 0 ? kernel_size : stride,
                       padding ? fmt::format(", padding={}", padding) : "");
}
}  // namespace

ReLU::ReLU() : Stateless("ReLU", [](const Tensor& x) { return relu(x); }) {}
Sigmoid::Sigmoid() : Stateless("Sigmoid", [](const Tensor& x) { return sigmoid(x); }) {}
Tanh::Tanh() : Stateless("Tanh", [](const Tensor& x) { return tanh(x); }) {}
GlobalAvgPool::GlobalAvgPool() : Stateless("GlobalAvgPool", [](const Tensor& x) { return global_avg_pool2d(x); }) {}
Flatten::Flatten() : Stateless("Flatten", [](const Tensor& x) { return flatten(x, 1); }) {}

MaxPool2d::MaxPool2d(int kernel_size, int stride, int padding)
    : Stateless(pool_description("MaxPool2d", kernel_size, stride, padding),
                [=](const Tensor& x) { return max_pool2d(x, kernel_size, stride, padding); }),
      kernel_size_(kernel_size),
      stride_(stride == 0 ? kernel_size : stride),
      padding_(padding) {}

AvgPool2d::AvgPool2d(int kernel_size, int stride, int padding)
    : Stateless(pool_description("AvgPool2d", kernel_size, stride, padding),
                [=](const Tensor& x) { return avg_pool2d(x, kernel_size, stride, padding); }),
      kernel_size_(kernel_size) {}

Dropout::Dropout(float p, uint64_t seed) : p_(p), gen_(seed) {
    if (!(p >= 0.0f && p <= 1.0f)) throw Error(fmt::format("Dropout: p must be in [0, 1], got {}", p));
    register_generator("generator", gen_);
}

Tensor Dropout::forward(const Tensor& x) { return dropout(x, p_, is_training(), gen_); }

std::string Dropout::describe() const { return fmt::format("Dropout(p={})", p_); }

NoisyAffine::NoisyAffine(int64_t channels, uint64_t seed) : channels_(channels), gen_(seed) {
    register_generator("generator", gen_);
}

Tensor NoisyAffine::forward(const Tensor& x) {
    if (!is_training()) return x;
    if (x.ndim() < 2 || x.dim(1) != channels_)
        throw ShapeError(fmt::format("NoisyAffine: expected (N,{},...) input, got {}", channels_, x.shape().str()));
    // (1, C, 1, ...) so that the noise broadcasts over the batch and the positions.
    Shape per_channel{1, channels_};
    while (per_channel.size() < x.ndim()) per_channel.push_back(1);
    const Tensor scale = Tensor::uniform(per_channel, gen_, 0.5f, 2.0f);
    const Tensor shift = Tensor::uniform(per_channel, gen_, -1.0f, 1.0f);
    return x * scale + shift;
}

std::string NoisyAffine::describe() const { return fmt::format("NoisyAffine({})", channels_); }

}  // namespace bnlab
