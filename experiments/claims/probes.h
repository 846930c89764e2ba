// Probes: measurements of a model in the middle of training that leave it exactly as it was.
//
// The gradients and covariate-shift claims measure, every K steps and on a fixed batch, things
// that need extra forward/backward passes and even trial steps of the weights: gradient norms,
// the loss along the gradient direction, Santurkar et al.'s internal covariate shift. Each
// probe runs under a ModelRestorer, so training continues bit for bit as if nothing had been
// measured (tests/test_claim_probes.cpp checks the final weights with and without probes).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/random.h"
#include "core/safetensors.h"
#include "data/dataset.h"
#include "experiments/claims/claim.h"
#include "layers/module.h"

namespace bnlab::claims {

// Saves everything a measurement can change in a model: parameter values, buffers (BatchNorm's
// running statistics), counters, random generators (dropout masks, noisy-BN draws), gradients
// and each module's train/eval mode. Puts them back when it leaves its scope, even by exception:
//   { ModelRestorer keep(model); /* forward, backward, trial steps */ }  // as before here
class ModelRestorer {
public:
    explicit ModelRestorer(Module& model);
    ~ModelRestorer();
    ModelRestorer(const ModelRestorer&) = delete;
    ModelRestorer& operator=(const ModelRestorer&) = delete;

private:
    Module& model_;
    ModeGuard modes_;
    TensorFile state_;
    std::vector<Generator::State> generators_;
    std::vector<Tensor> gradients_;  // copies; undefined where a parameter had no gradient
};

// The states of the model's random generators (dropout, noisy BN), in named_generators() order.
std::vector<Generator::State> generator_states(Module& model);
void set_generator_states(Module& model, std::span<const Generator::State> states);

// Accuracy (0..1) of the trainer's model on the first `limit` images of `data` (0: all), in eval
// mode, normalized as the model's training images were. Leaves the model as it was.
double eval_accuracy(Trainer& trainer, const Dataset& data, int64_t limit = 0);

// A batch that stays the same all through training.
struct FixedBatch {
    Tensor images;                // (N, C, H, W), normalized like the training images
    std::vector<int32_t> labels;  // N
};
// Images [first, first + count) of `data`, normalized with the training set's mean/std.
FixedBatch fixed_batch(const Dataset& data, int64_t first, int64_t count, const Dataset& training_set);

// Cross-entropy on the batch, in the model's current mode (training: BatchNorm uses the batch's
// statistics and updates its running ones, so call under a ModelRestorer). The _and_gradients
// version replaces every parameter's .grad with d loss / d parameter.
double batch_loss(Module& model, const FixedBatch& batch);
double batch_loss_and_gradients(Module& model, const FixedBatch& batch);

// The layers with weights (Linear, Conv2d) among a Sequential's children, in order, and a
// short name for each ("conv1", ..., "fc6"), numbered over all of them.
struct WeightLayer {
    size_t child;      // index of the layer in the Sequential
    std::string name;  // e.g. "conv3"
    Tensor weight;
};
std::vector<WeightLayer> weight_layers(Sequential& model);

// Every parameter's gradient (zeros where none) concatenated in named_parameters() order.
std::vector<float> flat_gradient(const Module& model);
double l2_norm(std::span<const float> v);
double l2_distance(std::span<const float> a, std::span<const float> b);
double cosine(std::span<const float> a, std::span<const float> b);  // NaN if either is zero
// The q-th percentile (0..100) with linear interpolation between order statistics (numpy's
// default); NaN for no values. percentiles() sorts once for several q.
double percentile(std::vector<float> values, double q);
std::vector<double> percentiles(std::vector<float> values, std::span<const double> qs);

// The input of child `child` of the Sequential for x, i.e. the output of children [0, child),
// in the model's current mode, without a tape.
Tensor input_of(Sequential& model, const Tensor& x, size_t child);

// --- the loss landscape along the gradient (Santurkar et al. 2018, section 3.2) ----------------

// At weights w with g = dL/dw on the batch (training mode):
//   layer_grad_norms[l]  = ||dL/dW_l|| for each weight layer
//   loss_along[i]        = L(w - eta_i g),  eta_i = multipliers[i] * lr
//   grad_change[i]       = ||dL/dw (w) - dL/dw (w - eta_i g)||  ("gradient predictiveness")
// derived: the loss range over the etas (the landscape's envelope), the largest gradient change,
// and the effective beta-smoothness max_i grad_change[i] / ||eta_i g||.
struct LandscapeSample {
    int64_t step = 0;
    double loss = 0, grad_norm = 0;
    std::vector<double> layer_grad_norms, etas, loss_along, grad_change;

    double loss_range() const;
    double max_grad_change() const;
    double beta_smoothness() const;
    // max/min of layer_grad_norms: how unevenly the gradient is spread over the layers.
    double layer_spread() const;
};
LandscapeSample probe_landscape(Sequential& model, const FixedBatch& batch, double lr, std::span<const double> multipliers);

// --- internal covariate shift (Santurkar et al. 2018, definition 2.1) ------------------------

// For the weight layer at child index `layer`: G = dL/dW_layer at the current weights; G' = the
// same after every earlier child took its plain-SGD step on the same batch (p <- p - lr dL/dp),
// the layer and everything after it unchanged. fresh_noise: G' sees a new draw of the model's
// random layers (noisy BN's noise), as the next training step would; else the draw G saw.
struct IcsSample {
    double distance = 0;  // ||G - G'||
    double relative = 0;  // ||G - G'|| / ||G||
    double cosine = 0;    // cos(G, G')
};
IcsSample probe_ics(Sequential& model, const FixedBatch& batch, double lr, size_t layer, bool fresh_noise);

// An observer that calls measure(trainer, step) after every `every`-th step (after that step's
// optimizer update, so `step` counts the steps taken). ClaimContext::train starts it.
class PeriodicProbe : public ModelObserver {
public:
    explicit PeriodicProbe(int64_t every) : every_(every) {}
    void on_start(Trainer& trainer) override { trainer_ = &trainer; }
    void on_step(const StepProgress& p) override {
        if (trainer_ && p.step % every_ == 0) measure(*trainer_, p.step);
    }

protected:
    virtual void measure(Trainer& trainer, int64_t step) = 0;

private:
    int64_t every_;
    Trainer* trainer_ = nullptr;
};

}  // namespace bnlab::claims
