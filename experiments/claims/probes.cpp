#include "experiments/claims/probes.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "core/error.h"
#include "core/ops.h"
#include "core/tape.h"
#include "data/loader.h"
#include "layers/affine.h"
#include "train/evaluate.h"

namespace bnlab::claims {

std::vector<Generator::State> generator_states(Module& model) {
    std::vector<Generator::State> out;
    for (const auto& [name, gen] : model.named_generators()) out.push_back(gen->state());
    return out;
}

void set_generator_states(Module& model, std::span<const Generator::State> states) {
    size_t i = 0;
    for (auto& [name, gen] : model.named_generators()) gen->set_state(states[i++]);
}

ModelRestorer::ModelRestorer(Module& model)
    : model_(model), modes_(model, model.is_training()), state_(copy_state(model)), generators_(generator_states(model)) {
    for (const auto& [name, p] : model.named_parameters()) gradients_.push_back(p.grad().defined() ? p.grad().clone() : Tensor());
}

ModelRestorer::~ModelRestorer() {
    model_.load_state_dict(state_);
    set_generator_states(model_, generators_);
    size_t i = 0;
    for (auto& [name, p] : model_.named_parameters()) {
        p.zero_grad();  // drops the measurement's gradient
        const Tensor& saved = gradients_[i++];
        if (saved.defined()) std::ranges::copy(saved.values(), grad_buffer(p));
    }
}

double eval_accuracy(Trainer& trainer, const Dataset& data, int64_t limit) {
    const SavedModel saved = trainer.saved_model();  // for the training images' normalization
    return evaluate(trainer.model(), data, limit, 500, saved.mean, saved.std).accuracy;
}

FixedBatch fixed_batch(const Dataset& data, int64_t first, int64_t count, const Dataset& training_set) {
    if (first < 0 || count < 1 || first + count > data.size())
        throw Error(fmt::format("{}: cannot take images {}..{} of {}", data.name, first, first + count, data.size()));
    const Dataset part = subset(data, first, first + count, data.name);
    return {normalize_images(part.pixels, part.channels, part.height, part.width, training_set.mean, training_set.std),
            part.labels};
}

double batch_loss(Module& model, const FixedBatch& batch) {
    NoTape no_tape;
    return cross_entropy(model.forward(batch.images), batch.labels).item();
}

double batch_loss_and_gradients(Module& model, const FixedBatch& batch) {
    model.zero_grad();
    Tape tape;
    const Tensor loss = cross_entropy(model.forward(batch.images), batch.labels);
    tape.backward(loss);
    return loss.item();
}

std::vector<WeightLayer> weight_layers(Sequential& model) {
    std::vector<WeightLayer> out;
    for (size_t i = 0; i < model.size(); ++i) {
        const std::string ordinal = std::to_string(out.size() + 1);
        if (auto* conv = dynamic_cast<Conv2d*>(&model[i])) out.push_back({i, "conv" + ordinal, conv->weight});
        else if (auto* fc = dynamic_cast<Linear*>(&model[i])) out.push_back({i, "fc" + ordinal, fc->weight});
    }
    return out;
}

namespace {

// p <- p + scale * dL/dp for every parameter of `model` that has a gradient.
void step_along_gradient(Module& model, float scale) {
    for (auto& [name, p] : model.named_parameters()) {
        if (!p.grad().defined()) continue;
        const auto g = p.grad().values();
        auto w = p.values();
        for (size_t i = 0; i < w.size(); ++i) w[i] += scale * g[i];
    }
}

// p <- p + scale * direction, with `direction` laid out like flat_gradient(model).
void step_along(Module& model, std::span<const float> direction, float scale) {
    size_t offset = 0;
    for (auto& [name, p] : model.named_parameters()) {
        auto w = p.values();
        for (size_t i = 0; i < w.size(); ++i) w[i] += scale * direction[offset + i];
        offset += w.size();
    }
}

std::vector<float> gradient_of(const Tensor& weight) {
    return weight.grad().defined() ? weight.grad().to_vector() : std::vector<float>(static_cast<size_t>(weight.numel()), 0.0f);
}

}  // namespace

std::vector<float> flat_gradient(const Module& model) {
    std::vector<float> out;
    for (const auto& [name, p] : model.named_parameters()) {
        const std::vector<float> g = gradient_of(p);
        out.insert(out.end(), g.begin(), g.end());
    }
    return out;
}

double l2_norm(std::span<const float> v) {
    double sq = 0;
    for (float x : v) sq += static_cast<double>(x) * x;
    return std::sqrt(sq);
}

double l2_distance(std::span<const float> a, std::span<const float> b) {
    if (a.size() != b.size()) throw Error(fmt::format("l2_distance: sizes {} and {} differ", a.size(), b.size()));
    double sq = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        const double d = static_cast<double>(a[i]) - b[i];
        sq += d * d;
    }
    return std::sqrt(sq);
}

double cosine(std::span<const float> a, std::span<const float> b) {
    if (a.size() != b.size()) throw Error(fmt::format("cosine: sizes {} and {} differ", a.size(), b.size()));
    double dot = 0;
    for (size_t i = 0; i < a.size(); ++i) dot += static_cast<double>(a[i]) * b[i];
    const double norms = l2_norm(a) * l2_norm(b);
    return norms > 0 ? dot / norms : NAN;
}

std::vector<double> percentiles(std::vector<float> values, std::span<const double> qs) {
    std::sort(values.begin(), values.end());
    std::vector<double> out;
    for (const double q : qs) {
        if (values.empty()) {
            out.push_back(NAN);
            continue;
        }
        // numpy "linear": position q/100 * (n - 1), interpolated between its neighbours.
        const double position = std::clamp(q, 0.0, 100.0) / 100.0 * static_cast<double>(values.size() - 1);
        const auto below = static_cast<size_t>(std::floor(position));
        const size_t above = std::min(below + 1, values.size() - 1);
        const double fraction = position - static_cast<double>(below);
        out.push_back(values[below] + fraction * (static_cast<double>(values[above]) - values[below]));
    }
    return out;
}

double percentile(std::vector<float> values, double q) { return percentiles(std::move(values), std::span(&q, 1)).front(); }

Tensor input_of(Sequential& model, const Tensor& x, size_t child) {
    if (child >= model.size()) throw Error(fmt::format("input_of: the model has {} layers, not {}", model.size(), child + 1));
    NoTape no_tape;
    Tensor h = x;
    for (size_t i = 0; i < child; ++i) h = model[i].forward(h);
    return h;
}

// --- landscape -------------------------------------------------------------------------------

double LandscapeSample::loss_range() const {
    const auto [low, high] = std::minmax_element(loss_along.begin(), loss_along.end());
    return loss_along.empty() ? NAN : *high - *low;
}

double LandscapeSample::max_grad_change() const {
    return grad_change.empty() ? NAN : *std::max_element(grad_change.begin(), grad_change.end());
}

double LandscapeSample::beta_smoothness() const {
    double beta = NAN;
    for (size_t i = 0; i < etas.size(); ++i) {
        const double b = grad_change[i] / (etas[i] * grad_norm);
        if (std::isnan(beta) || b > beta) beta = b;
    }
    return beta;
}

double LandscapeSample::layer_spread() const {
    const auto [low, high] = std::minmax_element(layer_grad_norms.begin(), layer_grad_norms.end());
    return layer_grad_norms.empty() ? NAN : *high / *low;
}

LandscapeSample probe_landscape(Sequential& model, const FixedBatch& batch, double lr, std::span<const double> multipliers) {
    ModelRestorer keep(model);
    model.train();
    const std::vector<Generator::State> noise_at_w = generator_states(model);
    LandscapeSample s;
    s.loss = batch_loss_and_gradients(model, batch);
    const std::vector<float> g = flat_gradient(model);
    s.grad_norm = l2_norm(g);
    for (const WeightLayer& layer : weight_layers(model)) s.layer_grad_norms.push_back(l2_norm(gradient_of(layer.weight)));
    // Trial points w - eta g, each reached from w itself, and with the random layers (noisy BN)
    // drawing what they drew at w: every point is on the same function.
    const TensorFile at_w = copy_state(model);
    for (const double m : multipliers) {
        const double eta = m * lr;
        model.load_state_dict(at_w);
        set_generator_states(model, noise_at_w);
        step_along(model, g, static_cast<float>(-eta));
        s.etas.push_back(eta);
        s.loss_along.push_back(batch_loss_and_gradients(model, batch));
        s.grad_change.push_back(l2_distance(g, flat_gradient(model)));
    }
    return s;
}

// --- internal covariate shift ----------------------------------------------------------------

IcsSample probe_ics(Sequential& model, const FixedBatch& batch, double lr, size_t layer, bool fresh_noise) {
    const std::vector<WeightLayer> layers = weight_layers(model);
    const auto it = std::find_if(layers.begin(), layers.end(), [&](const WeightLayer& l) { return l.child == layer; });
    if (it == layers.end()) throw Error(fmt::format("probe_ics: layer {} of the model has no weights", layer));
    const Tensor weight = it->weight;

    ModelRestorer keep(model);
    model.train();
    const std::vector<Generator::State> noise = generator_states(model);  // before G's forward pass

    batch_loss_and_gradients(model, batch);
    const std::vector<float> G = gradient_of(weight);
    // The earlier layers take their SGD step on this batch; the layer and those after it stay.
    for (size_t i = 0; i < layer; ++i) step_along_gradient(model[i], static_cast<float>(-lr));
    if (!fresh_noise) set_generator_states(model, noise);
    batch_loss_and_gradients(model, batch);
    const std::vector<float> G_after = gradient_of(weight);

    IcsSample s;
    s.distance = l2_distance(G, G_after);
    const double norm = l2_norm(G);
    s.relative = norm > 0 ? s.distance / norm : NAN;
    s.cosine = cosine(G, G_after);
    return s;
}

}  // namespace bnlab::claims
