// The model zoo: the networks bnlab's experiments train, each with a switchable norm.
//
//   mlp        784-100-100-100-10 with sigmoid: the MNIST network of the BatchNorm paper
//              (depth, width and activation can be changed: mlp_hidden_layers, mlp_width, activation)
//   small-cnn  conv3x3(16) norm relu maxpool, conv3x3(32) norm relu maxpool, linear(classes)
//              (the "conv16-conv32-FC" of the claim experiments; ~4x cheaper than mnist-cnn)
//   mnist-cnn  conv3x3(32) norm relu maxpool, conv3x3(64) norm relu maxpool,
//              linear(128) norm relu, linear(classes)
//   cifar-cnn  conv3x3(32) norm relu, conv3x3(32) norm relu, maxpool,
//              conv3x3(64) norm relu, conv3x3(64) norm relu, maxpool,
//              conv3x3(128) norm relu, maxpool, linear(classes)
// Every conv is 3x3 with padding 1; pools are 2x2. Sizes follow the input (C,H,W), so
// mnist-cnn also runs on 3x32x32 images.
//
// norm: none | bn (BatchNorm2d after convs, BatchNorm1d after linears) | ln (LayerNorm:
// GroupNorm(1, C) after convs, i.e. statistics over C,H,W per sample, LayerNorm(F) after
// linears) | gn (GroupNorm(gn_groups, C)). The norm sits after the linear transform and
// before the activation; norm_after_activation moves it after. A transform feeding a norm
// directly has no bias (the norm's mean subtraction would cancel it). noisy-bn is BatchNorm
// followed, in training only, by a per-channel affine noise redrawn every step (Santurkar et
// al. 2018's "noisy BN": mean ~ U(-1,1), scale ~ U(0.5,2)).
//
// Pairing: transform k draws its initial weights from Generator(seed).fork(k), so two models
// that differ only in their norms start with identical weights for every shared layer.
#pragma once

#include <string>
#include <vector>

#include "layers/module.h"
#include "layers/norm.h"

namespace bnlab {

struct ModelConfig {
    std::string arch = "mnist-cnn";  // mlp | small-cnn | mnist-cnn | cifar-cnn
    std::string norm = "none";       // none | bn | ln | gn | noisy-bn
    std::string activation;          // relu | sigmoid | tanh; "": sigmoid for mlp, relu for the CNNs
    int mlp_hidden_layers = 3;
    int64_t mlp_width = 100;
    bool norm_after_activation = false;
    int gn_groups = 4;
    float init_scale = 1.0f;         // multiplies every weight draw ("gaussian": the weight std)
    std::string init = "default";    // default (PyTorch's) | gaussian: N(0, init_scale^2), zero biases
    float dropout = 0.0f;            // dropout before the last linear layer, if > 0
    BatchNormOptions batch_norm;     // eps, momentum, ... of every BatchNorm
};

struct InputSpec {
    int64_t channels = 1, height = 28, width = 28;
    int64_t classes = 10;
};

// Throws FieldError naming the bad field by its config.json key ("model" for arch, "norm",
// "gn_groups", ...): an unknown name (listing the known ones), groups that do not divide.
std::shared_ptr<Sequential> make_model(const ModelConfig& config, const InputSpec& input, uint64_t seed);

// The names ModelConfig's string fields accept: the one list that make_model, TrainConfig::validate,
// error messages and the command line's --help read.
const std::vector<std::string>& model_names();       // arch: mlp, small-cnn, mnist-cnn, cifar-cnn
const std::vector<std::string>& norm_names();        // norm: none, bn, ln, gn, noisy-bn
const std::vector<std::string>& init_names();        // init: default, gaussian
const std::vector<std::string>& activation_names();  // activation ("" too: the model's default)

// Throws FieldError for the first ModelConfig field outside its list (make_model calls it).
void validate_names(const ModelConfig& config);

}  // namespace bnlab
