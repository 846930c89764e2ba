// model.safetensors: a trained model as a PyTorch-compatible state_dict, plus metadata that
// lets bnlab rebuild the architecture (`bnlab eval`, `bnlab predict`):
//   bnlab.config   the TrainConfig as JSON (model, norm, ...)
//   bnlab.spec     the network as a resolved spec (models/zoo.h resolved_spec): what load_model
//                  builds, with the config's init, gn_groups and BatchNorm options
//   bnlab.input    "C,H,W" of the images it takes
//   bnlab.classes  the class names as a JSON array
//   bnlab.mean, bnlab.std  the per-channel normalization it was trained with (JSON arrays)
// PyTorch ignores the metadata and loads the tensors by name.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/memory_budget.h"
#include "train/config.h"
#include "layers/module.h"
#include "models/zoo.h"

namespace bnlab {

struct SavedModel {
    std::shared_ptr<Sequential> model;
    TrainConfig config;
    InputSpec input;
    std::vector<std::string> class_names;
    std::vector<float> mean, std;
};

// Atomic (temp file + rename).
void save_model(const std::string& path, const SavedModel& saved);
// Error naming the path for a file that is not a bnlab model or does not match its config,
// whose metadata declares a model larger than the memory budget (checked before building
// it), or that lies in an unfinished run directory (see kRunIncompleteMarker).
SavedModel load_model(const std::string& path, int64_t memory_budget = memory_budget_bytes());

// What makes a loaded model's predictions meaningless though the file is well formed: a
// tensor holding NaN or infinite values (e.g. saved after the run diverged), a BatchNorm
// running_var with a negative entry (BN would take the square root of a negative number).
// One line per tensor; empty for a sound model. eval and predict print them as warnings
// and still run (README, exit codes): the model is what the file holds.
std::vector<std::string> model_warnings(const SavedModel& saved);

// A run directory (train/run_recorder.h) holding this file is being written or was stopped
// half-way: its files may mix two runs, so no model in it is loaded.
inline constexpr const char* kRunIncompleteMarker = "run.incomplete";
// Error "DIR: incomplete run ..." when the folder holding `path` has the marker.
void require_finished_run(const std::string& path);

}  // namespace bnlab
