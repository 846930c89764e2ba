// Layers with learned weights: Linear and Conv2d.
//
// Initialization is PyTorch's default, kaiming_uniform_(a = sqrt(5)):
//   weight ~ U(-b, b), b = gain * sqrt(3 / fan_in), gain = sqrt(2 / (1 + a^2)) -> b = 1/sqrt(fan_in)
//   bias   ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))
// init_scale multiplies the weight draw (the init-sensitivity experiments sweep it; the
// bias keeps its default range). The values come from the Generator passed in.
//
// WeightInit::gaussian instead draws weight ~ N(0, init_scale^2) whatever the fan-in, with
// zero biases: the `weight_scale * randn` of the CS231n weight-scale sweep (claim init-scale),
// where one scale means the same weight std in every layer.
//
// WeightInit::he is He et al. 2015's kaiming_normal_(mode='fan_in', nonlinearity='relu'):
// weight ~ N(0, init_scale^2 * 2 / fan_in), zero biases; it keeps the variance of a ReLU
// network's activations constant from layer to layer.
#pragma once

#include "layers/module.h"

namespace bnlab {

enum class WeightInit { pytorch_default, gaussian, he };

struct LinearOptions {
    bool bias = true;
    float init_scale = 1.0f;
    WeightInit init = WeightInit::pytorch_default;
};

// x: (N,in) -> y: (N,out) = x weight^T + bias;  weight: (out,in), bias: (out)
class Linear : public Module {
public:
    Linear(int64_t in_features, int64_t out_features, Generator& gen, LinearOptions options = {});
    Tensor forward(const Tensor& x) override;
    std::string describe() const override;

    Tensor weight, bias;  // bias undefined when options.bias is false

private:
    int64_t in_features_, out_features_;
};

struct Conv2dOptions {
    int stride = 1;
    int padding = 0;
    bool bias = true;
    float init_scale = 1.0f;
    WeightInit init = WeightInit::pytorch_default;
};

// x: (N,C,H,W) -> y: (N,F,Ho,Wo);  weight: (F,C,k,k), bias: (F)
class Conv2d : public Module {
public:
    Conv2d(int64_t in_channels, int64_t out_channels, int kernel_size, Generator& gen, Conv2dOptions options = {});
    Tensor forward(const Tensor& x) override;
    // The same, also summing the output for the BatchNorm after it (core/ops.h ChannelSums).
    Tensor forward(const Tensor& x, ChannelSums& output_sums);
    std::string describe() const override;

    Tensor weight, bias;

private:
    int64_t in_channels_, out_channels_;
    int kernel_size_;
    Conv2dOptions options_;
};

}  // namespace bnlab
