// Models stored as a plain state_dict: a safetensors file of named tensors without the bnlab
// metadata of model_file.h, e.g. a PyTorch model's state_dict saved with safetensors.
//
// The names are PyTorch's torch.nn.Sequential names ("0.weight", "1.running_mean",
// "1.num_batches_tracked"), which are bnlab's own for the same layers in the same order (a
// Flatten or ReLU holds no tensors but counts as a layer, as in PyTorch). A "module." prefix on
// every name (what torch.nn.DataParallel adds) is removed. What the file does not say comes
// from the caller: the architecture (ModelConfig) and, from the data set the model is used
// with, the input size, the class names and the normalization.
#pragma once

#include <string>
#include <vector>

#include "core/safetensors.h"
#include "train/model_file.h"

namespace bnlab {

struct PlainModelSpec {
    ModelConfig model;
    std::string dataset;  // recorded in the SavedModel's config (for messages)
    InputSpec input;
    std::vector<std::string> class_names;
    std::vector<float> mean, std;
};

// Whether the file carries the metadata load_model() needs (bnlab.config).
bool has_bnlab_metadata(const TensorFile& file);

// The model `spec` describes, with the weights of `file` (read from `path`), in eval mode.
// Error naming the path and the tensor for a missing, extra or misshapen tensor.
SavedModel load_plain_model(const std::string& path, const TensorFile& file, const PlainModelSpec& spec);

}  // namespace bnlab
