// Module: a layer or a model. Holds named parameters, buffers and sub-modules, and a
// training flag; forward() calls ops from core/. No numerics live here.
//
// Names follow PyTorch's state_dict: a parameter `weight` of the child registered as "0"
// inside a child registered as "features" is "features.0.weight".
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/ops.h"
#include "core/random.h"
#include "core/safetensors.h"
#include "core/tensor.h"

namespace bnlab {

class Module {
public:
    virtual ~Module() = default;
    Module() = default;
    Module(const Module&) = delete;  // registered pointers point into the object
    Module& operator=(const Module&) = delete;

    virtual Tensor forward(const Tensor& x) = 0;
    Tensor operator()(const Tensor& x) { return forward(x); }
    // One line describing this layer, e.g. "Conv2d(1, 32, kernel_size=3, padding=1, bias=False)".
    virtual std::string describe() const = 0;

    // Training mode, applied to this module and every descendant.
    void train(bool training = true);
    void eval() { train(false); }
    bool is_training() const { return training_; }

    // Everything below recurses into sub-modules, in registration order, with dotted names.
    std::vector<std::pair<std::string, Tensor>> named_parameters() const;
    std::vector<std::pair<std::string, Tensor>> named_buffers() const;  // float buffers
    std::vector<Tensor> parameters() const;
    int64_t parameter_count() const;
    void zero_grad();
    // (name, module) for this module ("" ) and every descendant, depth first.
    std::vector<std::pair<std::string, Module*>> named_modules();
    // Random generators the modules own (dropout masks), for checkpoints that resume exactly.
    std::vector<std::pair<std::string, Generator*>> named_generators();

    // PyTorch-style state: parameters and float buffers as F32, counters
    // (num_batches_tracked) as I64 0-d tensors.
    TensorFile state_dict() const;
    // Copies values into the existing tensors. Every name, dtype and shape must match; the
    // Error names the first mismatch (a missing key, an unexpected key, or a shape).
    void load_state_dict(const TensorFile& state);

protected:
    // Registration, from a layer's constructor. The Tensor handles share storage with the
    // layer's own members, so updates through either are seen by both.
    void register_parameter(const std::string& name, Tensor& t);
    void register_buffer(const std::string& name, Tensor& t);
    void register_counter(const std::string& name, int64_t& counter);
    void register_generator(const std::string& name, Generator& gen);
    void register_module(const std::string& name, std::shared_ptr<Module> child);
    const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }

private:
    // Appends (prefix.name, value) for `member` of this module and every descendant.
    template <class T>
    void collect(const std::string& prefix, std::vector<std::pair<std::string, T>> Module::*member,
                 std::vector<std::pair<std::string, T>>& out) const;

    std::vector<std::pair<std::string, Tensor>> parameters_;
    std::vector<std::pair<std::string, Tensor>> buffers_;
    std::vector<std::pair<std::string, int64_t*>> counters_;
    std::vector<std::pair<std::string, Generator*>> generators_;
    std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
    bool training_ = true;
};

// Sets a module tree's mode for a scope and restores every module's previous mode on exit,
// even by exception. Evaluating in the middle of training can never leave BatchNorm or
// Dropout in eval mode:
//   { ModeGuard eval_mode(model, false); evaluate(model); }   // back in training here
class ModeGuard {
public:
    ModeGuard(Module& module, bool training);
    ~ModeGuard();
    ModeGuard(const ModeGuard&) = delete;
    ModeGuard& operator=(const ModeGuard&) = delete;

private:
    std::vector<std::pair<Module*, bool>> saved_;
};

// Applies its children in order; they are named "0", "1", ... like torch.nn.Sequential.
class Sequential : public Module {
public:
    Sequential() = default;
    Sequential(std::initializer_list<std::shared_ptr<Module>> layers);
    Sequential& add(std::shared_ptr<Module> layer);
    // The layers in order, with fewer passes over memory where BatchNorm meets its neighbours
    // (the same numbers, bit for bit): a BatchNorm directly followed by a ReLU runs as one op,
    // with a MaxPool2d(2) (stride 2, no padding) after the ReLU the three run as one
    // (BatchNorm::forward_fused), a Conv2d right before a BatchNorm in training sums its
    // output for BN's statistics (core/ops.h ChannelSums), and a Residual followed by a ReLU
    // adds and rectifies in one op (Residual::forward_relu). set_fuse_bn_relu(false) turns all of
    // that off, set_fuse_pool(false) only the pool's part, e.g. to compare or to time the ops
    // apart; both apply to every Sequential inside this one too (residual blocks' bodies).
    Tensor forward(const Tensor& x) override;
    std::string describe() const override { return "Sequential"; }
    size_t size() const { return children().size(); }
    Module& operator[](size_t i) const { return *children()[i].second; }
    void set_fuse_bn_relu(bool fuse);
    void set_fuse_pool(bool fuse);

private:
    bool fuse_bn_relu_ = true, fuse_pool_ = true;
    ChannelSums conv_sums_;  // a Conv2d's output sums for the BatchNorm after it, reused every step
};

// A copy of the module's state (its values, not handles to them): restore it later with
// load_state_dict, e.g. around a measurement that must not disturb training.
TensorFile copy_state(const Module& module);

// A model in a few lines:
//   auto model = sequential({std::make_shared<Linear>(784, 100, gen), std::make_shared<ReLU>(), ...});
std::shared_ptr<Sequential> sequential(std::initializer_list<std::shared_ptr<Module>> layers);

// torchinfo-style table: each leaf layer, its output shape for an input of `input_shape`,
// and its parameter count; then totals. Runs one forward pass in eval mode, no tape.
std::string summary(Module& model, const Shape& input_shape);

}  // namespace bnlab
