#include "train/model_file.h"

#include <fmt/format.h>

#include "core/error.h"

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

SavedModel load_model(const std::string& path) {
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
    if (std::sscanf(meta("bnlab.input").c_str(), "%ld,%ld,%ld", &in.channels, &in.height, &in.width) != 3)
        throw Error(path + ": bad bnlab.input metadata '" + meta("bnlab.input") + "'");
    in.classes = static_cast<int64_t>(saved.class_names.size());
    if (static_cast<int64_t>(saved.mean.size()) != in.channels || saved.std.size() != saved.mean.size())
        throw Error(path + ": bnlab.mean/bnlab.std do not have one value per input channel");
    // The stored spec, when there is one, is the network as it was built; the config's model
    // name may mean another network in a later bnlab.
    ModelConfig architecture = saved.config.model;
    if (auto spec = file.metadata.find("bnlab.spec"); spec != file.metadata.end())
        architecture = ModelConfig{.arch = spec->second, .gn_groups = architecture.gn_groups, .init_scale = architecture.init_scale,
                                   .init = architecture.init, .batch_norm = architecture.batch_norm};
    try {
        saved.model = make_model(architecture, in, saved.config.seed);
    } catch (const Error& e) {
        throw Error(path + ": cannot rebuild its model: " + e.what());
    }
    saved.model->load_state_dict(file);
    saved.model->eval();
    return saved;
}

}  // namespace bnlab
