#include "optim/optimizer.h"

#include <charconv>
#include <cmath>
#include <fmt/format.h>
#include <set>

#include "core/error.h"
#include "optim/check_option.h"

namespace bnlab {

namespace {

void check_lr(const std::string& optimizer, double lr) {
    check_option(std::isfinite(lr) && lr >= 0, optimizer.c_str(), "lr", "finite and >= 0", lr);
}

}  // namespace

Optimizer::Optimizer(std::string name, std::vector<Tensor> params, double lr, std::vector<std::string> buffer_names,
                     HyperParameters hyper_parameters)
    : name_(std::move(name)),
      params_(std::move(params)),
      lr_(lr),
      buffer_names_(std::move(buffer_names)),
      hyper_parameters_(std::move(hyper_parameters)),
      state_(params_.size()) {
    check_lr(name_, lr);
    if (params_.empty()) throw Error(name_ + ": got an empty parameter list");
    for (size_t i = 0; i < params_.size(); ++i) {
        if (!params_[i].defined()) throw Error(fmt::format("{}: parameter {} is an undefined tensor", name_, i));
        for (size_t j = 0; j < i; ++j)
            if (params_[i].same(params_[j]))
                throw Error(fmt::format("{}: parameter {} is the same tensor as parameter {} (it would be "
                                        "updated twice per step)",
                                        name_, i, j));
    }
}

void Optimizer::step() {
    for (size_t i = 0; i < params_.size(); ++i) {
        Tensor& param = params_[i];
        const Tensor grad = param.grad();
        if (!grad.defined()) continue;  // took no part in the loss: left alone, state too, as in PyTorch
        if (grad.shape() != param.shape())
            throw ShapeError(fmt::format("{}.step: parameter {} has shape {} but its gradient has shape {}", name_, i,
                                         param.shape().str(), grad.shape().str()));
        ParamState& state = state_[i];
        if (state.step == 0)
            for (size_t b = 0; b < buffer_names_.size(); ++b) state.buffers.push_back(Tensor::zeros(param.shape()));
        ++state.step;
        update_lr_ = lr_factors_.empty() ? lr_ : lr_ * lr_factors_[i];
        update(param, grad, state);
    }
    ++steps_;
}

void Optimizer::zero_grad() {
    for (Tensor& param : params_) param.zero_grad();
}

void Optimizer::set_lr(double lr) {
    check_lr(name_, lr);
    lr_ = lr;
}

void Optimizer::set_lr_factors(std::vector<double> factors) {
    if (!factors.empty() && factors.size() != params_.size())
        throw Error(fmt::format("{}: {} learning-rate factors for {} parameters", name_, factors.size(), params_.size()));
    for (size_t i = 0; i < factors.size(); ++i)
        if (!(std::isfinite(factors[i]) && factors[i] >= 0))
            throw Error(fmt::format("{}: the learning-rate factor of parameter {} must be finite and >= 0, got {}", name_,
                                    i, factors[i]));
    lr_factors_ = std::move(factors);
}

std::string Optimizer::exact(double value) { return fmt::format("{}", value); }  // shortest text that reads back exactly
std::string Optimizer::exact(bool value) { return value ? "true" : "false"; }

namespace {

// Every tensor name under "<prefix>." in a file, both dtypes.
std::vector<std::string> names_under(const TensorFile& file, const std::string& prefix) {
    std::vector<std::string> names;
    for (const auto& [name, tensor] : file.f32)
        if (name.starts_with(prefix + ".")) names.push_back(name);
    for (const auto& [name, tensor] : file.i64)
        if (name.starts_with(prefix + ".")) names.push_back(name);
    return names;
}

TensorFile::Int64Tensor int64_scalar(int64_t value) { return {Shape{}, {value}}; }

}  // namespace

void Optimizer::save_state(TensorFile& file, const std::string& prefix) const {
    if (prefix.empty()) throw Error(name_ + ".save_state: the prefix must not be empty");
    // Entries from an earlier save under this prefix would otherwise linger.
    for (const std::string& name : names_under(file, prefix)) {
        file.f32.erase(name);
        file.i64.erase(name);
    }
    file.metadata[prefix + ".optimizer"] = name_;
    file.metadata[prefix + ".params"] = std::to_string(params_.size());
    file.metadata[prefix + ".lr"] = exact(lr_);
    for (const auto& [key, value] : hyper_parameters_) file.metadata[prefix + "." + key] = value;
    file.i64[prefix + ".steps"] = int64_scalar(steps_);
    for (size_t i = 0; i < params_.size(); ++i) {
        const ParamState& state = state_[i];
        if (state.step == 0) continue;  // never updated: nothing to save
        const std::string param_prefix = fmt::format("{}.{}.", prefix, i);
        file.i64[param_prefix + "step"] = int64_scalar(state.step);
        // Copies: the file must keep this moment's values while training goes on.
        for (size_t b = 0; b < buffer_names_.size(); ++b)
            file.f32[param_prefix + buffer_names_[b]] = state.buffers[b].clone();
    }
}

void Optimizer::load_state(const TensorFile& file, const std::string& prefix) {
    const std::string where = fmt::format("{}{}.load_state '{}'", file.source.empty() ? "" : file.source + ": ",
                                          name_, prefix);
    const auto fail = [&](const std::string& problem) { throw Error(where + ": " + problem); };
    if (prefix.empty()) fail("the prefix must not be empty");
    const auto metadata = [&](const std::string& key) -> const std::string& {
        const auto it = file.metadata.find(prefix + "." + key);
        if (it == file.metadata.end()) fail("no metadata '" + prefix + "." + key + "'");
        return it->second;
    };
    const auto count = [&](const std::string& name) -> int64_t {
        const auto it = file.i64.find(name);
        if (it == file.i64.end()) fail("no I64 tensor '" + name + "'");
        if (!it->second.shape.empty() || it->second.values[0] < 0)
            fail("'" + name + "' must be a 0-d count >= 0");
        return it->second.values[0];
    };

    if (metadata("optimizer") != name_) fail("the file holds " + metadata("optimizer") + " state, not " + name_);
    if (metadata("params") != std::to_string(params_.size()))
        fail(fmt::format("the file holds state for {} parameters, this optimizer has {}", metadata("params"),
                         params_.size()));
    for (const auto& [key, value] : hyper_parameters_)
        if (metadata(key) != value) fail(fmt::format("{} is {} in the file but {} here", key, metadata(key), value));
    const std::string& lr_text = metadata("lr");
    double lr = 0;
    const auto [end, error] = std::from_chars(lr_text.data(), lr_text.data() + lr_text.size(), lr);
    if (error != std::errc() || end != lr_text.data() + lr_text.size() || !std::isfinite(lr) || lr < 0)
        fail("lr '" + lr_text + "' is not a number >= 0");

    // Read everything into a new state first, so a bad file leaves the optimizer as it was.
    std::set<std::string> expected = {prefix + ".steps"};
    const int64_t steps = count(prefix + ".steps");
    std::vector<ParamState> state(params_.size());
    for (size_t i = 0; i < params_.size(); ++i) {
        const std::string param_prefix = fmt::format("{}.{}.", prefix, i);
        if (!file.i64.count(param_prefix + "step")) continue;  // never updated when saved
        expected.insert(param_prefix + "step");
        state[i].step = count(param_prefix + "step");
        if (state[i].step == 0) fail("'" + param_prefix + "step' is 0: a parameter with state has been updated");
        for (const std::string& buffer : buffer_names_) {
            const std::string name = param_prefix + buffer;
            const auto it = file.f32.find(name);
            if (it == file.f32.end()) fail("no F32 tensor '" + name + "'");
            if (it->second.shape() != params_[i].shape())
                fail(fmt::format("'{}' has shape {} but parameter {} has shape {}", name, it->second.shape().str(), i,
                                 params_[i].shape().str()));
            state[i].buffers.push_back(it->second.clone());
            expected.insert(name);
        }
    }
    // Anything else under the prefix would be dropped silently: a buffer of another configuration.
    for (const std::string& name : names_under(file, prefix))
        if (!expected.count(name)) fail("unexpected tensor '" + name + "' (state for " + name_ + " has no such entry)");

    lr_ = lr;
    steps_ = steps;
    state_ = std::move(state);
}

}  // namespace bnlab
