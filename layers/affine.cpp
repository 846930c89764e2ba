#include "layers/affine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/ops.h"

namespace bnlab {

namespace {

// pytorch_default: kaiming_uniform_(a = sqrt(5)) for the weight (times init_scale),
// U(+-1/sqrt(fan_in)) for the bias. gaussian: weight ~ N(0, init_scale^2), bias = 0.
// he: weight ~ N(0, init_scale^2 * 2/fan_in), bias = 0.
void init_affine(Tensor& weight, Tensor& bias, int64_t fan_in, float init_scale, WeightInit init, Generator& gen) {
    if (init == WeightInit::gaussian || init == WeightInit::he) {
        const float std = init == WeightInit::he ? init_scale * std::sqrt(2.0f / static_cast<float>(fan_in)) : init_scale;
        for (float& w : weight.values()) w = gen.normal(0.0f, std);
        if (bias.defined()) std::ranges::fill(bias.values(), 0.0f);
        return;
    }
    const float bound = 1.0f / std::sqrt(static_cast<float>(fan_in));
    for (float& w : weight.values()) w = init_scale * gen.uniform(-bound, bound);
    if (bias.defined())
        for (float& b : bias.values()) b = gen.uniform(-bound, bound);
}

void check_positive(const char* layer, const char* what, int64_t value) {
    if (value < 1) throw Error(fmt::format("{}: {} must be >= 1, got {}", layer, what, value));
}

}  // namespace

Linear::Linear(int64_t in_features, int64_t out_features, Generator& gen, LinearOptions options)
    : in_features_(in_features), out_features_(out_features) {
    check_positive("Linear", "in_features", in_features);
    check_positive("Linear", "out_features", out_features);
    weight = Tensor::empty({out_features, in_features});
    if (options.bias) bias = Tensor::empty({out_features});
    init_affine(weight, bias, in_features, options.init_scale, options.init, gen);
    register_parameter("weight", weight);
    if (options.bias) register_parameter("bias", bias);
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

std::string Linear::describe() const {
    return fmt::format("Linear({}, {}{})", in_features_, out_features_, bias.defined() ? "" : ", bias=False");
}

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int kernel_size, Generator& gen, Conv2dOptions options)
    : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size), options_(options) {
    check_positive("Conv2d", "in_channels", in_channels);
    check_positive("Conv2d", "out_channels", out_channels);
    check_positive("Conv2d", "kernel_size", kernel_size);
    check_positive("Conv2d", "stride", options.stride);
    if (options.padding < 0) throw Error(fmt::format("Conv2d: padding must be >= 0, got {}", options.padding));
    weight = Tensor::empty({out_channels, in_channels, kernel_size, kernel_size});
    if (options.bias) bias = Tensor::empty({out_channels});
    init_affine(weight, bias, in_channels * kernel_size * kernel_size, options.init_scale, options.init, gen);
    register_parameter("weight", weight);
    if (options.bias) register_parameter("bias", bias);
}

Tensor Conv2d::forward(const Tensor& x) { return conv2d(x, weight, bias, options_.stride, options_.padding); }

Tensor Conv2d::forward(const Tensor& x, ChannelSums& output_sums) {
    return conv2d(x, weight, bias, options_.stride, options_.padding, &output_sums);
}

std::string Conv2d::describe() const {
    std::string s = fmt::format("Conv2d({}, {}, kernel_size={}", in_channels_, out_channels_, kernel_size_);
    if (options_.stride != 1) s += fmt::format(", stride={}", options_.stride);
    if (options_.padding != 0) s += fmt::format(", padding={}", options_.padding);
    if (!options_.bias) s += ", bias=False";
    return s + ")";
}

}  // namespace bnlab
