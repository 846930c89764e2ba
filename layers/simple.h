// Layers without learned parameters: activations, pooling, flatten, dropout.
#pragma once

#include <functional>

#include "layers/module.h"

namespace bnlab {

// Wraps a parameter-free op: y = op(x).
class Stateless : public Module {
public:
    Tensor forward(const Tensor& x) override { return op_(x); }
    std::string describe() const override { return description_; }

protected:
    Stateless(std::string description, std::function<Tensor(const Tensor&)> op)
        : description_(std::move(description)), op_(std::move(op)) {}

private:
    std::string description_;
    std::function<Tensor(const Tensor&)> op_;
};

class ReLU : public Stateless {
public:
    ReLU();
};
class Sigmoid : public Stateless {
public:
    Sigmoid();
};
class Tanh : public Stateless {
public:
    Tanh();
};
// (N,C,H,W) -> (N,C,Ho,Wo); stride 0 means stride = kernel_size.
class MaxPool2d : public Stateless {
public:
    explicit MaxPool2d(int kernel_size, int stride = 0, int padding = 0);
    int kernel_size() const { return kernel_size_; }
    int stride() const { return stride_; }  // 0 on construction means kernel_size
    int padding() const { return padding_; }

private:
    int kernel_size_, stride_, padding_;
};
class AvgPool2d : public Stateless {
public:
    explicit AvgPool2d(int kernel_size, int stride = 0, int padding = 0);
    int kernel_size() const { return kernel_size_; }

private:
    int kernel_size_;
};
// (N,C,H,W) -> (N,C)
class GlobalAvgPool : public Stateless {
public:
    GlobalAvgPool();
};
// (N,d1,d2,...) -> (N, d1*d2*...)
class Flatten : public Stateless {
public:
    Flatten();
};

// Zeroes elements with probability p in training (scaling the rest by 1/(1-p)); the
// identity in eval. Its Generator is part of the module, so a checkpoint resumes its masks.
class Dropout : public Module {
public:
    explicit Dropout(float p = 0.5f, uint64_t seed = 0);
    Tensor forward(const Tensor& x) override;
    std::string describe() const override;

private:
    float p_;
    Generator gen_;
};

// "Noisy BN" (Santurkar et al. 2018): in training, y = x * scale_c + shift_c with one
// scale ~ U(0.5, 2) and shift ~ U(-1, 1) per channel (dimension 1), redrawn every forward
// pass; the identity in eval. Placed after a BatchNorm, it keeps BN's normalization but gives
// every layer's input a distribution that moves each step (high covariate shift).
class NoisyAffine : public Module {
public:
    NoisyAffine(int64_t channels, uint64_t seed);
    Tensor forward(const Tensor& x) override;
    std::string describe() const override;

private:
    int64_t channels_;
    Generator gen_;
};

}  // namespace bnlab
