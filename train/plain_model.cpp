#include "train/plain_model.h"

#include <algorithm>

namespace bnlab {

namespace {

constexpr std::string_view kDataParallelPrefix = "module.";

// `file` with the prefix removed from every name, if every name has it.
TensorFile without_common_prefix(const TensorFile& file, std::string_view prefix) {
    const auto has_prefix = [&](const auto& entry) { return entry.first.starts_with(prefix); };
    if (file.f32.empty() || !std::ranges::all_of(file.f32, has_prefix) || !std::ranges::all_of(file.i64, has_prefix))
        return file;
    TensorFile out;
    out.source = file.source;
    out.metadata = file.metadata;
    for (const auto& [name, t] : file.f32) out.f32[name.substr(prefix.size())] = t;
    for (const auto& [name, t] : file.i64) out.i64[name.substr(prefix.size())] = t;
    return out;
}

}  // namespace

bool has_bnlab_metadata(const TensorFile& file) { return file.metadata.contains("bnlab.config"); }

SavedModel load_plain_model(const std::string& path, const TensorFile& file, const PlainModelSpec& spec) {
    SavedModel saved;
    saved.config.model = spec.model;
    saved.config.dataset = spec.dataset;
    saved.input = spec.input;
    saved.input.classes = static_cast<int64_t>(spec.class_names.size());
    saved.class_names = spec.class_names;
    saved.mean = spec.mean;
    saved.std = spec.std;
    saved.model = make_model(spec.model, saved.input, 0);
    TensorFile state = without_common_prefix(file, kDataParallelPrefix);
    state.source = path;
    saved.model->load_state_dict(state);
    saved.model->eval();
    return saved;
}

}  // namespace bnlab
