#include "layers/module.h"

#include <fmt/format.h>

#include <set>

#include "core/error.h"
#include "core/tape.h"

namespace bnlab {

namespace {
std::string join(const std::string& prefix, const std::string& name) { return prefix.empty() ? name : prefix + "." + name; }
}  // namespace

void Module::train(bool training) {
    training_ = training;
    for (auto& [name, child] : children_) child->train(training);
}

template <class T>
void Module::collect(const std::string& prefix, std::vector<std::pair<std::string, T>> Module::*member,
                     std::vector<std::pair<std::string, T>>& out) const {
    for (const auto& [name, value] : this->*member) out.emplace_back(join(prefix, name), value);
    for (const auto& [name, child] : children_) child->collect(join(prefix, name), member, out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
    std::vector<std::pair<std::string, Tensor>> out;
    collect("", &Module::parameters_, out);
    return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
    std::vector<std::pair<std::string, Tensor>> out;
    collect("", &Module::buffers_, out);
    return out;
}

std::vector<std::pair<std::string, Generator*>> Module::named_generators() {
    std::vector<std::pair<std::string, Generator*>> out;
    collect("", &Module::generators_, out);
    return out;
}

std::vector<Tensor> Module::parameters() const {
    std::vector<Tensor> out;
    for (auto& [name, t] : named_parameters()) out.push_back(t);
    return out;
}

int64_t Module::parameter_count() const {
    int64_t n = 0;
    for (const auto& [name, t] : named_parameters()) n += t.numel();
    return n;
}

void Module::zero_grad() {
    for (auto& [name, t] : named_parameters()) t.zero_grad();
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
    std::vector<std::pair<std::string, Module*>> out{{"", this}};
    for (auto& [name, child] : children_)
        for (auto& [sub, m] : child->named_modules()) out.emplace_back(join(name, sub), m);
    return out;
}

TensorFile Module::state_dict() const {
    TensorFile state;
    for (const auto& [name, t] : named_parameters()) state.f32[name] = t;
    for (const auto& [name, t] : named_buffers()) state.f32[name] = t;
    std::vector<std::pair<std::string, int64_t*>> counters;
    collect("", &Module::counters_, counters);
    for (const auto& [name, c] : counters) state.i64[name] = {Shape{}, {*c}};
    return state;
}

void Module::load_state_dict(const TensorFile& state) {
    const std::string where = state.source.empty() ? "load_state_dict" : state.source;
    std::set<std::string> expected;
    const auto load_f32 = [&](const std::string& name, Tensor t) {
        expected.insert(name);
        auto it = state.f32.find(name);
        if (it == state.f32.end()) {
            throw Error(where + ": missing key '" + name + "'" +
                        (state.i64.count(name) ? " (found as I64, expected F32)" : ""));
        }
        if (it->second.shape() != t.shape())
            throw Error(where + ": '" + name + "' has shape " + it->second.shape().str() + ", the model expects " +
                        t.shape().str());
    };
    // Check everything before changing anything, so a failed load leaves the model as it was.
    for (const auto& [name, t] : named_parameters()) load_f32(name, t);
    for (const auto& [name, t] : named_buffers()) load_f32(name, t);
    std::vector<std::pair<std::string, int64_t*>> counters;
    collect("", &Module::counters_, counters);
    for (const auto& [name, c] : counters) {
        expected.insert(name);
        auto it = state.i64.find(name);
        if (it == state.i64.end())
            throw Error(where + ": missing key '" + name + "'" +
                        (state.f32.count(name) ? " (found as F32, expected I64)" : ""));
        if (it->second.values.size() != 1)
            throw Error(where + ": '" + name + "' should hold one I64 value, has shape " + it->second.shape.str());
    }
    for (const auto& [name, t] : state.f32)
        if (!expected.count(name)) throw Error(where + ": unexpected key '" + name + "' (not in this model)");
    for (const auto& [name, t] : state.i64)
        if (!expected.count(name)) throw Error(where + ": unexpected key '" + name + "' (not in this model)");

    for (auto& [name, t] : named_parameters()) t.copy_from(state.f32.at(name));
    for (auto& [name, t] : named_buffers()) t.copy_from(state.f32.at(name));
    for (auto& [name, c] : counters) *c = state.i64.at(name).values[0];
}

void Module::register_parameter(const std::string& name, Tensor& t) {
    t.set_requires_grad();
    parameters_.emplace_back(name, t);
}
void Module::register_buffer(const std::string& name, Tensor& t) { buffers_.emplace_back(name, t); }
void Module::register_counter(const std::string& name, int64_t& counter) { counters_.emplace_back(name, &counter); }
void Module::register_generator(const std::string& name, Generator& gen) { generators_.emplace_back(name, &gen); }
void Module::register_module(const std::string& name, std::shared_ptr<Module> child) {
    if (!child) throw Error("register_module: '" + name + "' is null");
    child->train(training_);
    children_.emplace_back(name, std::move(child));
}

TensorFile copy_state(const Module& module) {
    TensorFile state = module.state_dict();
    for (auto& [name, t] : state.f32) t = t.clone();
    return state;
}

ModeGuard::ModeGuard(Module& module, bool training) {
    for (auto& [name, m] : module.named_modules()) saved_.emplace_back(m, m->is_training());
    module.train(training);
}

ModeGuard::~ModeGuard() {
    // Restore each module's own flag, so a layer the user froze in eval mode stays frozen.
    // saved_ lists parents before their descendants, so each train() call (which recurses)
    // is corrected by the calls for the descendants that follow it.
    for (auto& [m, training] : saved_) m->train(training);
}

}  // namespace bnlab
