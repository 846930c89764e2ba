// Optimizer: updates a model's parameters in place from their gradients.
//
//   SGD optimizer(model.parameters(), 0.1, {.momentum = 0.9});
//   for (...) {
//       optimizer.zero_grad();
//       Tape tape;
//       tape.backward(cross_entropy(model.forward(x), labels));
//       optimizer.step();
//   }
//
// The optimizer holds Tensor handles that share storage with the model's parameters, so
// step() changes the model. A parameter whose grad() is undefined (it took no part in the
// loss) is skipped, state and all, as in PyTorch. Each parameter keeps its own update count
// and buffers (momentum, Adam's moments), created on its first update.
//
// save_state / load_state put that state into a safetensors TensorFile (core/safetensors.h)
// under a prefix, so a checkpoint resumes bit-identically:
//   <prefix>.steps               I64 ()  step() calls so far
//   <prefix>.<i>.step            I64 ()  updates parameter i has received (absent: none yet)
//   <prefix>.<i>.<buffer>        F32     e.g. momentum_buffer, exp_avg, exp_avg_sq, max_exp_avg_sq
//   metadata <prefix>.optimizer, <prefix>.params, <prefix>.lr and each hyper-parameter.
// Loading restores lr and checks the rest: another optimizer, another hyper-parameter, a
// missing or extra tensor or a shape that does not match throws Error naming the first one.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/safetensors.h"
#include "core/tensor.h"

namespace bnlab {

class Optimizer {
public:
    virtual ~Optimizer() = default;
    Optimizer(const Optimizer&) = delete;  // a copy would share its buffers with the original
    Optimizer& operator=(const Optimizer&) = delete;

    // One update of every parameter that has a gradient.
    virtual void step();
    // Drops every parameter's gradient (Tensor::zero_grad), so the next backward starts at zero.
    void zero_grad();

    double lr() const { return lr_; }
    void set_lr(double lr);  // what a schedule calls each step; must be >= 0
    // Per-parameter factors on the learning rate (PyTorch's parameter groups, as ratios so that a
    // schedule scales every group alike): parameter i is updated with lr() * factors[i]. One
    // finite factor >= 0 per parameter; empty: 1 for all.
    void set_lr_factors(std::vector<double> factors);
    int64_t steps() const { return steps_; }  // step() calls so far
    const std::string& name() const { return name_; }  // "SGD", "Adam", "AdamW"
    std::span<const Tensor> params() const { return params_; }

    void save_state(TensorFile& file, const std::string& prefix) const;
    void load_state(const TensorFile& file, const std::string& prefix);

protected:
    // What the optimizer keeps for one parameter.
    struct ParamState {
        int64_t step = 0;             // updates so far, this one included while update() runs
        std::vector<Tensor> buffers;  // one per buffer name, same shape as the parameter
    };
    // The hyper-parameters other than lr, as (name, value printed exactly) for the metadata.
    using HyperParameters = std::vector<std::pair<std::string, std::string>>;

    // `params` must be defined, distinct and non-empty. The buffers named in buffer_names
    // are created zero-filled before a parameter's first update.
    Optimizer(std::string name, std::vector<Tensor> params, double lr, std::vector<std::string> buffer_names,
              HyperParameters hyper_parameters);

    // Updates `param` in place from `grad` (same shape); state.step already counts this update.
    // The learning rate to use is update_lr(): lr() times the parameter's factor.
    virtual void update(Tensor& param, const Tensor& grad, ParamState& state) = 0;

    // The exact text a hyper-parameter is stored as.
    static std::string exact(double value);
    static std::string exact(bool value);
    double update_lr() const { return update_lr_; }

private:
    std::string name_;
    std::vector<Tensor> params_;
    double lr_;
    std::vector<std::string> buffer_names_;
    HyperParameters hyper_parameters_;
    std::vector<ParamState> state_;  // one per parameter
    int64_t steps_ = 0;
    std::vector<double> lr_factors_;  // empty: 1 for every parameter
    double update_lr_ = 0;            // lr_ times the factor of the parameter update() is updating
};

}  // namespace bnlab
