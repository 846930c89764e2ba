// The model zoo: the networks bnlab's experiments train, each with a switchable norm. Every
// model is a spec (models/spec.h); the built-in ones are named specs:
//
//   mlp        flatten-fc100-norm-act-fc100-norm-act-fc100-norm-act-dropout-fc, act sigmoid:
//              the 784-100-100-100-10 MNIST network of the BatchNorm paper (depth: the number
//              of fc layers, default mlp_hidden_layers + 1; width: the hidden features, default mlp_width)
//   small-cnn  conv16-norm-act-pool2-conv32-norm-act-pool2-flatten-dropout-fc
//              (the "conv16-conv32-FC" of the claim experiments; ~4x cheaper than mnist-cnn)
//   mnist-cnn  conv32-norm-act-pool2-conv64-norm-act-pool2-flatten-fc128-norm-act-dropout-fc
//   cifar-cnn  conv32-norm-act-conv32-norm-act-pool2-conv64-norm-act-conv64-norm-act-pool2-
//              conv128-norm-act-pool2-flatten-dropout-fc
//   plain-cnn  He et al. 2016's plain CIFAR network: depth-1 3x3 convs (norm, act) in 3 stages
//              of width, 2 width, 4 width channels (default depth 20, width 16: "plain-20"),
//              the first conv of stages 2 and 3 with stride 2, then gap-dropout-fc. The convs
//              are spread over the stages as evenly as possible, earlier stages first.
//   resnet20   He et al. 2016's ResNet-20 for CIFAR-10: conv16-norm-act, 3 stages of 3 basic
//              blocks (16, 32, 64 channels; stride 2 entering stages 2 and 3) with option-A
//              shortcuts (subsample + zero channels: no projection weights), gap, fc.
//              0.27M parameters; the same network as plain-cnn at depth 20 plus the shortcuts.
// Sizes follow the input (C,H,W), so mnist-cnn also runs on 3x32x32 images; `fc` alone has
// one output per class.
//
// norm: none | bn (BatchNorm2d after convs, BatchNorm1d after linears) | ln (LayerNorm:
// GroupNorm(1, C) after convs, i.e. statistics over C,H,W per sample, LayerNorm(F) after
// linears) | gn (GroupNorm(gn_groups, C)). The norm sits after the linear transform and
// before the activation; norm_after_activation moves it after. A transform feeding a norm
// directly has no bias (the norm's mean subtraction would cancel it). noisy-bn is BatchNorm
// followed, in training only, by a per-channel affine noise redrawn every step (Santurkar et
// al. 2018's "noisy BN": mean ~ U(-1,1), scale ~ U(0.5,2)).
//
// Pairing: transform k (conv or fc, in spec order) draws its initial weights from
// Generator(seed).fork(k), so two models that differ only in their norms start with identical
// weights for every shared layer.
#pragma once

#include <string>
#include <vector>

#include "layers/module.h"
#include "layers/norm.h"

namespace bnlab {

struct ModelConfig {
    std::string arch = "mnist-cnn";  // one of model_names(), or a spec (models/spec.h)
    std::string norm = "none";       // none | bn | ln | gn | noisy-bn
    std::string activation;          // relu | sigmoid | tanh; "": sigmoid for mlp, relu for the CNNs
    int mlp_hidden_layers = 3;
    int64_t mlp_width = 100;
    int depth = 0;                   // mlp, plain-cnn: weight layers (convs + fcs); 0: the model's default
    int64_t width = 0;               // mlp: hidden features; plain-cnn: first-stage channels; 0: default
    bool norm_after_activation = false;
    int gn_groups = 4;
    float init_scale = 1.0f;         // multiplies every weight draw ("gaussian": the weight std)
    std::string init = "default";    // default (PyTorch's) | gaussian: N(0, init_scale^2) | he: N(0, init_scale^2 * 2/fan_in); both zero biases
    float dropout = 0.0f;            // dropout before the last linear layer, if > 0
    BatchNormOptions batch_norm;     // eps, momentum, ... of every BatchNorm
};

struct InputSpec {
    int64_t channels = 1, height = 28, width = 28;
    int64_t classes = 10;
};

// Throws FieldError naming the bad field by its config.json key ("model" for arch, "norm",
// "gn_groups", ...): an unknown name (listing the known ones), a spec mistake with its position,
// groups that do not divide, an input too small for the model's pools or strides.
std::shared_ptr<Sequential> make_model(const ModelConfig& config, const InputSpec& input, uint64_t seed);

// At least the floats make_model would allocate for parameters and norm buffers (4 per norm
// channel), computed from the spec without building anything, so that a model a file declares
// can be checked against the memory budget first. The same FieldErrors as make_model; an Error
// when a size overflows 64 bits.
int64_t model_float_count(const ModelConfig& config, const InputSpec& input);

// The spec of a named model with depth and width applied (still holding the setting-dependent
// layers norm, act, dropout), or arch itself when it is a spec.
std::string model_spec(const ModelConfig& config);
// The spec with every setting applied: norm, act and dropout replaced by the layers they mean
// (none: removed), basic blocks written out, norms moved after activations where configured.
// Built with the same config (its init, gn_groups, BatchNorm options) it gives the same network,
// so model files store it (train/model_file.h).
std::string resolved_spec(const ModelConfig& config);
bool is_model_name(const std::string& arch);

// The names ModelConfig's string fields accept: the one list that make_model, TrainConfig::validate,
// error messages and the command line's --help read.
const std::vector<std::string>& model_names();       // arch: mlp, small-cnn, mnist-cnn, cifar-cnn, plain-cnn, resnet20
const std::vector<std::string>& norm_names();        // norm: none, bn, ln, gn, noisy-bn
const std::vector<std::string>& init_names();        // init: default, gaussian, he
const std::vector<std::string>& activation_names();  // activation ("" too: the model's default)

// Throws FieldError for the first bad ModelConfig field: a name outside its list, a spec that
// does not parse, a depth or width out of range or given to a model without one (make_model
// calls it; shapes are checked when building).
void validate_model_config(const ModelConfig& config);

}  // namespace bnlab
