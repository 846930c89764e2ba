#include "train/model_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <span>

#include "core/error.h"
#include "core/memory_budget.h"

namespace bnlab {

void save_model(const std::string& path, const SavedModel& saved) {
    TensorFile file = saved.model->state_dict();
    file.metadata["format"] = "pt";
    file.metadata["bnlab.config"] = to_json(saved.config).dump();
    file.metadata["bnlab.spec"] = resolved_spec(saved.config.model);
    file.metadata["bnlab.input"] = fmt::format("{},{},{}", saved.input.channels, saved.input.height, saved.input.width);
    file.metadata["bnlab.classes"] = nlohmann::json(saved.class_names).dump();
    file.metadata["bnlab.mean"] = nlohmann::json(saved.mean).dump();
    file.metadata["bnlab.std"] = nlohmann::json(saved.std).dump();
    write_safetensors(path, file);
}

namespace {

// The metadata alone decides how large a model make_model() builds, so it is bounded before
// anything is built: a file declaring input 1,100000,100000 or mlp_width 1e9 is refused here,
// not by std::bad_alloc. models/zoo.h's model_float_count() walks the spec without allocating;
// a model that does not build at all is left to make_model() to name.
void check_declared_model_size(const std::string& path, const ModelConfig& model, const InputSpec& in,
                               int64_t memory_budget) {
    const std::string what = path + ": the model its metadata declares (" + model.arch + ", input " +
                             std::to_string(in.channels) + "x" + std::to_string(in.height) + "x" +
                             std::to_string(in.width) + ", " + std::to_string(in.classes) + " classes)";
    int64_t floats = 0;
    try {
        floats = model_float_count(model, in);
    } catch (const FieldError&) {
        return;  // make_model names the bad field
    } catch (const Error& e) {
        throw Error(what + ": " + e.what());
    }
    check_memory_budget(checked_product({floats, int64_t{sizeof(float)}}, what), what, memory_budget);
}

// "C,H,W": three positive integers that fit in int64_t, nothing else.
bool parse_input_spec(const std::string& text, InputSpec& in) {
    const char* p = text.data();
    const char* end = text.data() + text.size();
    int64_t* fields[] = {&in.channels, &in.height, &in.width};
    for (size_t i = 0; i < 3; ++i) {
        if (i > 0 && (p == end || *p++ != ',')) return false;
        const auto [next, error] = std::from_chars(p, end, *fields[i]);
        if (error != std::errc() || *fields[i] < 1) return false;
        p = next;
    }
    return p == end;
}

}  // namespace

void require_finished_run(const std::string& path) {
    const std::filesystem::path dir = std::filesystem::path(path).parent_path();
    std::error_code ec;
    if (std::filesystem::exists((dir.empty() ? "." : dir) / kRunIncompleteMarker, ec))
        throw Error(path + ": its run directory " + (dir.empty() ? "." : dir.string()) +
                    " is incomplete (the run is still going or was stopped before it finished: it holds " +
                    kRunIncompleteMarker + "); train it again");
}

SavedModel load_model(const std::string& path, int64_t memory_budget) {
    require_finished_run(path);
    const TensorFile file = read_safetensors(path);
    const auto meta = [&](const std::string& key) -> const std::string& {
        auto it = file.metadata.find(key);
        if (it == file.metadata.end())
            throw Error(path + ": no '" + key + "' metadata: not a model file written by bnlab train");
        return it->second;
    };
    SavedModel saved;
    try {
        saved.config = config_from_json(nlohmann::json::parse(meta("bnlab.config")));
        saved.class_names = nlohmann::json::parse(meta("bnlab.classes")).get<std::vector<std::string>>();
        saved.mean = nlohmann::json::parse(meta("bnlab.mean")).get<std::vector<float>>();
        saved.std = nlohmann::json::parse(meta("bnlab.std")).get<std::vector<float>>();
    } catch (const nlohmann::json::exception& e) {
        throw Error(path + ": bad bnlab metadata: " + e.what());
    }
    InputSpec& in = saved.input;
    if (!parse_input_spec(meta("bnlab.input"), in))
        throw Error(path + ": bad bnlab.input metadata '" + meta("bnlab.input") + "' (expected C,H,W, positive integers)");
    in.classes = static_cast<int64_t>(saved.class_names.size());
    if (static_cast<int64_t>(saved.mean.size()) != in.channels || saved.std.size() != saved.mean.size())
        throw Error(path + ": bnlab.mean/bnlab.std do not have one value per input channel");
    for (size_t c = 0; c < saved.std.size(); ++c)
        if (!std::isfinite(saved.mean[c]) || !std::isfinite(saved.std[c]) || saved.std[c] <= 0)
            throw Error(path + ": bad normalisation for channel " + std::to_string(c) + ": mean " +
                        std::to_string(saved.mean[c]) + ", std " + std::to_string(saved.std[c]) +
                        " (the std must be finite and positive)");
    // The stored spec, when there is one, is the network as it was built; the config's model
    // name may mean another network in a later bnlab.
    ModelConfig architecture = saved.config.model;
    if (auto spec = file.metadata.find("bnlab.spec"); spec != file.metadata.end())
        architecture = ModelConfig{.arch = spec->second, .gn_groups = architecture.gn_groups, .init_scale = architecture.init_scale,
                                   .init = architecture.init, .batch_norm = architecture.batch_norm};
    check_declared_model_size(path, architecture, in, memory_budget);
    try {
        saved.model = make_model(architecture, in, saved.config.seed);
    } catch (const Error& e) {
        throw Error(path + ": cannot rebuild its model: " + e.what());
    }
    saved.model->load_state_dict(file);
    saved.model->eval();
    return saved;
}

std::vector<std::string> model_warnings(const SavedModel& saved) {
    std::vector<std::string> warnings;
    for (const auto& [name, tensor] : saved.model->state_dict().f32) {
        int64_t not_finite = 0, negative = 0;
        for (const float v : std::span(tensor.data(), static_cast<size_t>(tensor.numel()))) {
            not_finite += !std::isfinite(v);
            negative += v < 0;
        }
        if (not_finite > 0)
            warnings.push_back(fmt::format("{}: {} of its {} values are NaN or infinite", name, not_finite, tensor.numel()));
        if (name.ends_with("running_var") && negative > 0)
            warnings.push_back(fmt::format("{}: {} negative variance(s)", name, negative));
    }
    return warnings;
}

}  // namespace bnlab
