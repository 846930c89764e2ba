// Training checkpoints: everything a run needs to continue exactly as if it had never
// stopped. One safetensors file holds
//   model.<name>      the model's parameters and buffers (running statistics, counters)
//   optimizer.<name>  the optimizer's state (momentum buffers, Adam moments, step counts)
//   rng.<name>        each random generator's state (dropout, noisy BN)
// and as metadata the config (a resume with another config is refused), the step, and the
// running metric sums since the last evaluation, doubles stored bit-exactly.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <bit>
#include <charconv>
#include <sstream>

#include "core/error.h"
#include "train/trainer.h"

namespace bnlab {

namespace {

// Doubles stored exactly in checkpoint metadata.
std::string exact(double v) { return fmt::format("{}", std::bit_cast<uint64_t>(v)); }

// A whole metadata value as an integer: Error naming the file and key on anything else
// (std::stoll's invalid_argument / out_of_range would otherwise reach main()).
template <class Int>
Int parse_integer(const std::string& text, const std::string& path, const std::string& key) {
    Int value{};
    const auto [end, problem] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (problem != std::errc() || end != text.data() + text.size() || text.empty())
        throw Error(path + ": corrupt checkpoint: " + key + " is '" + text + "', not an integer");
    return value;
}

}  // namespace

void Trainer::save_checkpoint(const std::string& path) const {
    TensorFile file;
    for (const auto& [name, t] : model_->state_dict().f32) file.f32["model." + name] = t;
    for (const auto& [name, t] : model_->state_dict().i64) file.i64["model." + name] = t;
    optimizer_->save_state(file, "optimizer");
    for (const auto& [name, gen] : model_->named_generators()) {
        const Generator::State s = gen->state();
        file.i64["rng." + name] = {Shape{5}, {static_cast<int64_t>(s.seed), static_cast<int64_t>(s.state),
                                             static_cast<int64_t>(s.increment), s.has_spare_normal ? 1 : 0,
                                             static_cast<int64_t>(std::bit_cast<uint32_t>(s.spare_normal))}};
    }
    file.metadata["bnlab.config"] = to_json(config_).dump();
    file.metadata["bnlab.step"] = std::to_string(step_);
    file.metadata["bnlab.window"] = fmt::format("{} {} {} {} {}", exact(window_loss_), window_correct_, window_samples_,
                                                window_steps_, exact(wall_seconds_));
    write_safetensors(path, file);
}

void Trainer::load_checkpoint(const std::string& path) {
    const TensorFile file = read_safetensors(path);
    const auto meta = [&](const std::string& key) {
        auto it = file.metadata.find(key);
        if (it == file.metadata.end()) throw Error(path + ": not a bnlab training checkpoint (no " + key + ")");
        return it->second;
    };
    nlohmann::json saved;
    try {
        saved = nlohmann::json::parse(meta("bnlab.config"));
    } catch (const nlohmann::json::exception& e) {
        throw Error(path + ": corrupt checkpoint: bnlab.config is not JSON: " + e.what());
    }
    nlohmann::json mine = to_json(config_);
    saved.erase("threads");  // the thread count may change between runs (results then agree to rounding)
    mine.erase("threads");
    if (saved != mine) throw Error(path + ": checkpoint was written by a run with another config: " + saved.dump());

    TensorFile model_state;
    model_state.source = path;
    for (const auto& [name, t] : file.f32)
        if (name.rfind("model.", 0) == 0) model_state.f32[name.substr(6)] = t;
    for (const auto& [name, t] : file.i64)
        if (name.rfind("model.", 0) == 0) model_state.i64[name.substr(6)] = t;
    model_->load_state_dict(model_state);
    optimizer_->load_state(file, "optimizer");
    for (auto& [name, gen] : model_->named_generators()) {
        auto it = file.i64.find("rng." + name);
        if (it == file.i64.end() || it->second.values.size() != 5) throw Error(path + ": missing generator state rng." + name);
        const auto& v = it->second.values;
        gen->set_state({static_cast<uint64_t>(v[0]), static_cast<uint64_t>(v[1]), static_cast<uint64_t>(v[2]), v[3] != 0,
                        std::bit_cast<float>(static_cast<uint32_t>(v[4]))});
    }
    step_ = parse_integer<int64_t>(meta("bnlab.step"), path, "bnlab.step");
    std::istringstream window(meta("bnlab.window"));
    std::string loss_bits, correct, samples, steps, wall_bits;
    window >> loss_bits >> correct >> samples >> steps >> wall_bits;
    const std::string key = "bnlab.window";
    window_loss_ = std::bit_cast<double>(parse_integer<uint64_t>(loss_bits, path, key));
    window_correct_ = parse_integer<decltype(window_correct_)>(correct, path, key);
    window_samples_ = parse_integer<decltype(window_samples_)>(samples, path, key);
    window_steps_ = parse_integer<decltype(window_steps_)>(steps, path, key);
    wall_offset_ = wall_seconds_ = std::bit_cast<double>(parse_integer<uint64_t>(wall_bits, path, key));
    loader_epoch_ = -1;  // the next run() restarts the loader at the right epoch and batch
}

}  // namespace bnlab
