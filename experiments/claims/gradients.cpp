// Claim 4: BatchNorm gives more stable gradients and a smoother loss landscape.
//
// (1) Santurkar et al. 2018, Fig. 4: cifar-cnn on CIFAR-10 with and without BN, the same plain-SGD
//     learning rate, paired seeds. Every K steps, on one fixed training batch (training mode) and
//     without disturbing training (probes.h): the per-layer gradient norms ||dL/dW_l||, the loss
//     L(w - eta g) for eta in {0.25, 0.5, 1, 2, 4} x lr, the gradient change
//     ||grad L(w) - grad L(w - eta g)|| and that divided by ||eta g|| (an effective beta).
// (2) Yang et al. 2019's counterpoint: per-layer ||dL/dW_l|| of a 20-layer ReLU MLP at
//     initialization, with and without BN: does the first layer's gradient explode?
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>

#include "core/json_integer.h"
#include "experiments/claims/claims.h"
#include "experiments/claims/data.h"
#include "experiments/claims/probes.h"
#include "experiments/claims/records.h"
#include "experiments/claims/regime.h"
#include "experiments/claims/report.h"
#include "experiments/claims/run_config.h"
#include "experiments/plot.h"

namespace bnlab::claims {

bool clearly_smaller_with_bn(std::span<const double> none_over_bn) {
    if (none_over_bn.empty()) return false;
    return mean_of(none_over_bn) >= 1.5 && bootstrap_mean_ci(none_over_bn).low > 1.0;
}

std::pair<std::string, std::string> gradients_verdict(const SmoothnessFindings& f) {
    const std::vector<std::pair<std::string, const std::vector<double>*>> measures{
        {"loss range", &f.loss_range}, {"gradient change", &f.grad_change}, {"effective beta", &f.beta},
        {"per-layer spread", &f.layer_spread}};
    std::vector<std::string> smaller, not_smaller;
    for (const auto& [name, ratios] : measures)
        (clearly_smaller_with_bn(*ratios) ? smaller : not_smaller)
            .push_back(fmt::format("{} {}x", name, significant(mean_of(*ratios))));
    const bool explodes = f.deep_bn_first_over_last >= 10;
    const std::string deep = fmt::format("20-layer MLP at init: first/last-layer ‖g‖ {} with BN, {} without",
                                         significant(f.deep_bn_first_over_last), significant(f.deep_none_first_over_last));
    const std::string ratios = fmt::format("none/BN ratios: {}", fmt::join(smaller, ", "));
    if (smaller.empty())
        return {"refuted", fmt::format("no measure is clearly smaller with BN (none/BN: {}); {}",
                                       fmt::join(not_smaller, ", "), deep)};
    if (!not_smaller.empty())
        return {"depends", fmt::format("only some measures are clearly smaller with BN ({}; not: {}); {}", ratios,
                                       fmt::join(not_smaller, ", "), deep)};
    if (explodes)
        return {"depends", fmt::format("on depth and on the moment: the CNN's landscape is smoother with BN during "
                                       "training ({}), but at initialization BN makes a deep MLP's gradients explode ({})",
                                       ratios, deep)};
    return {"confirmed", fmt::format("{}; {}", ratios, deep)};
}

namespace {

// eta / lr along the gradient direction (the protocol's {0.25 ... 4} x lr).
const std::vector<double> kStepMultipliers{0.25, 0.5, 1.0, 2.0, 4.0};
const std::vector<std::string> kArms{"none", "bn"};

// Probes the loss landscape along the gradient every K steps.
class LandscapeProbe : public PeriodicProbe {
public:
    LandscapeProbe(int64_t every, const FixedBatch& batch, double lr) : PeriodicProbe(every), batch_(batch), lr_(lr) {}
    std::vector<LandscapeSample> samples;

protected:
    void measure(Trainer& trainer, int64_t step) override {
        LandscapeSample s = probe_landscape(trainer.model(), batch_, lr_, kStepMultipliers);
        s.step = step;
        samples.push_back(std::move(s));
    }

private:
    const FixedBatch& batch_;
    double lr_;
};

struct ArmSeed {
    std::vector<LandscapeSample> samples;
    double validation_accuracy = NAN;
    bool diverged = false;
};

using Measure = double (LandscapeSample::*)() const;

double median_over_training(const std::vector<LandscapeSample>& samples, Measure measure) {
    std::vector<double> v;
    for (const LandscapeSample& s : samples) v.push_back((s.*measure)());
    return median_of(v);
}

// Per-layer gradient norms at initialization of one deep MLP (Yang et al.'s setting).
struct DeepInit {
    std::vector<std::string> layers;
    std::vector<std::vector<double>> norms;  // [seed][layer]
};

double geometric_mean(std::span<const double> v) {
    double log_sum = 0;
    for (double x : v) log_sum += std::log(x);
    return v.empty() ? NAN : std::exp(log_sum / static_cast<double>(v.size()));
}

class GradientsExperiment : public Experiment {
public:
    explicit GradientsExperiment(ClaimContext& ctx)
        : Experiment(ctx, "cifar10",
                     {.train_images = ctx.quick() ? kQuickTrainImages : kTrainImages, .validation_images = ctx.quick() ? 500 : 2000},
                     1, 5) {}

    ClaimResult run() {
        probe_batch_ = fixed_batch(data_.train, 0, batch_size(), data_.train);

        std::map<std::string, std::vector<ArmSeed>> arms;
        std::vector<std::pair<int, std::string>> jobs;  // (seed, arm), spread over the ranks
        for (int s = 0; s < seeds_; ++s)
            for (const std::string& norm : kArms) jobs.emplace_back(s, norm);
        const std::vector<nlohmann::json> trained = ctx_.spread(jobs.size(), [&](size_t i) {
            return arm_seed_json(train_arm(jobs[i].second, static_cast<uint64_t>(jobs[i].first)));
        });
        for (size_t i = 0; i < jobs.size(); ++i) arms[jobs[i].second].push_back(arm_seed_from_json(trained[i]));
        std::map<int, std::map<std::string, DeepInit>> deep_by_depth;  // hidden layers -> arm -> measurements
        for (int depth : deep_depths())
            for (const std::string& norm : kArms) deep_by_depth[depth][norm] = deep_mlp_at_init(norm, depth);
        const std::map<std::string, DeepInit>& deep = deep_by_depth.at(kDeepLayers);

        ClaimResult result;
        result.data = fmt::format("{}: {} training images (probes on the first {}), {} held-out validation images",
                                  data_.dataset, data_.train.size(), batch_size(), data_.validation.size());
        const SmoothnessFindings findings = report_landscape(arms, result.body);
        SmoothnessFindings with_deep = findings;
        report_deep(deep, with_deep, result.body);
        std::tie(result.verdict, result.reason) = gradients_verdict(with_deep);
        result.body = regime_map(findings, deep_by_depth, result) + result.body;
        result.key_result = fmt::format(
            "none/BN: loss range {}x, gradient change {}x, beta {}x, layer spread {}x; deep BN MLP at init: first/last "
            "‖g‖ {}",
            significant(mean_of(findings.loss_range)), significant(mean_of(findings.grad_change)),
            significant(mean_of(findings.beta)), significant(mean_of(findings.layer_spread)),
            significant(with_deep.deep_bn_first_over_last));
        result.deviations = {
            "cifar-cnn has 5 convolutions (conv32-conv32-pool-conv64-conv64-pool-conv128-pool-fc), not the protocol's 6; "
            "it is bnlab's VGG-style CIFAR network and a 6th conv would add a third to the cost.",
            fmt::format("A training subset of {} images (of the {} left after holding out {} for validation), so that "
                        "3 epochs ({} steps of batch {}) fit the budget.",
                        data_.train.size(), data_.full_train_size - data_.validation.size(), data_.validation.size(),
                        kEpochs * (data_.train.size() / kBatch), kBatch),
            "Plain SGD without momentum, so that L(w - lr g) is exactly the loss after a step of the run's size on the "
            "probe batch; Santurkar et al. train VGG with their own recipe (their step grid is unverified).",
            fmt::format("Probes every {} steps on one fixed batch of {} training images, in training mode (batch "
                        "statistics), so that every probe sees the same data.",
                        probe_every(), batch_size())};
        if (ctx_.quick())
            result.deviations.push_back(fmt::format("Quick profile: {} training images, {} steps, 1 seed: a smoke "
                                                    "test, not evidence.",
                                                    data_.train.size(), steps()));
        return result;
    }

private:
    static constexpr int64_t kQuickTrainImages = 2000;
    // A subset: 3 epochs of all 48,000 would take about 2.5x the 38 minutes measured on 18,000 (2026-11-25).
    static constexpr int64_t kTrainImages = 18000;
    static constexpr double kLearningRate = 0.1;  // plain SGD; the no-BN arm trains at it (45% after 300 steps)
    static constexpr int kDeepLayers = 20;  // Yang et al.'s check: a 20-layer MLP at initialization
    static constexpr int64_t kBatch = 128, kEpochs = 3;  // the default profile's training

    int64_t batch_size() const { return ctx_.quick() ? 64 : kBatch; }
    int64_t steps() const { return ctx_.quick() ? 20 : kEpochs * (data_.train.size() / kBatch); }
    int64_t probe_every() const { return ctx_.quick() ? 10 : 50; }

    TrainConfig config(const std::string& norm, uint64_t seed) const {
        // One evaluation, at the end.
        return run_config(data_.train, {.arch = "cifar-cnn", .norm = norm},
                          {.lr = kLearningRate, .momentum = 0.0, .batch = batch_size(), .steps = steps(),
                           .eval_every = steps(), .seed = seed});
    }

    // An arm's seed as spread() sends it (with the weight layers' names, which any run knows).
    nlohmann::json arm_seed_json(const ArmSeed& a) const {
        nlohmann::json samples = nlohmann::json::array();
        for (const LandscapeSample& p : a.samples)
            samples.push_back({p.step, number_json(p.loss), number_json(p.grad_norm), numbers_json(p.layer_grad_norms),
                               numbers_json(p.etas), numbers_json(p.loss_along), numbers_json(p.grad_change)});
        return {{"samples", samples}, {"validation_accuracy", number_json(a.validation_accuracy)},
                {"diverged", a.diverged}, {"layers", layer_names_}};
    }

    ArmSeed arm_seed_from_json(const nlohmann::json& j) {
        ArmSeed a;
        for (const auto& p : j.at("samples"))
            a.samples.push_back({json_integer<int64_t>(p.at(0)), number_from_json(p.at(1)), number_from_json(p.at(2)),
                                 numbers_from_json(p.at(3)), numbers_from_json(p.at(4)), numbers_from_json(p.at(5)),
                                 numbers_from_json(p.at(6))});
        a.validation_accuracy = number_from_json(j.at("validation_accuracy"));
        a.diverged = j.at("diverged").get<bool>();
        if (layer_names_.empty()) layer_names_ = j.at("layers").get<std::vector<std::string>>();
        return a;
    }

    ArmSeed train_arm(const std::string& norm, uint64_t seed) {
        LandscapeProbe probe(probe_every(), probe_batch_, kLearningRate);
        TrainedRun run = ctx_.train(fmt::format("cifar-cnn-{}-seed{}", norm, seed), config(norm, seed), data_.train,
                                    data_.validation, &probe);
        if (layer_names_.empty())
            for (const WeightLayer& l : weight_layers(run.trainer->model())) layer_names_.push_back(l.name);
        return {std::move(probe.samples), run.result.last.test_accuracy, run.result.diverged};
    }

    // The regime axis of the deep-MLP check: hidden layers of the ReLU MLP at initialization.
    std::vector<int> deep_depths() const { return ctx_.quick() ? std::vector<int>{5, 20} : std::vector<int>{5, 10, 20, 40}; }

    // first/last-hidden-layer ‖dL/dW‖ per seed of one deep MLP.
    static std::vector<double> first_over_last(const DeepInit& d, int hidden_layers) {
        std::vector<double> ratio;
        for (const auto& norms : d.norms) ratio.push_back(norms[0] / norms[static_cast<size_t>(hidden_layers - 1)]);
        return ratio;
    }

    // Along depth: the verdict at each depth is the rule's, with the deep-MLP check at that
    // depth (the landscape measures are the CNN's, the same at every point).
    std::string regime_map(const SmoothnessFindings& findings,
                           const std::map<int, std::map<std::string, DeepInit>>& deep_by_depth, ClaimResult& result) const {
        RegimeSeries series{"ReLU MLP at init", "hidden layers", {}};
        Table t{{"hidden layers", "first/last ‖dL/dW‖: bn", "none", "verdict at this depth"}, {}};
        Curve bn_curve{"bn", {}, {}, {}, {}}, none_curve{"none", {}, {}, {}, {}};
        for (const auto& [depth, arms] : deep_by_depth) {
            SmoothnessFindings f = findings;
            const std::vector<double> bn = first_over_last(arms.at("bn"), depth), none = first_over_last(arms.at("none"), depth);
            f.deep_bn_first_over_last = geometric_mean(bn);
            f.deep_none_first_over_last = geometric_mean(none);
            const std::string verdict = gradients_verdict(f).first;
            series.points.push_back({double(depth), verdict, fmt::format("BN first/last {}", significant(f.deep_bn_first_over_last))});
            t.rows.push_back({std::to_string(depth), significant(f.deep_bn_first_over_last),
                              significant(f.deep_none_first_over_last), verdict});
            for (auto [curve, values] : {std::pair{&bn_curve, &bn}, std::pair{&none_curve, &none}}) {
                curve->x.push_back(depth);
                curve->mean.push_back(geometric_mean(*values));
                curve->low.push_back(*std::min_element(values->begin(), values->end()));
                curve->high.push_back(*std::max_element(values->begin(), values->end()));
            }
        }
        result.regime_axis = "depth (hidden layers) of a ReLU MLP at initialization, for Yang et al.'s explosion";
        result.where_it_holds = where_it_holds(std::vector{series});
        PlotSpec spec{"first/last-layer gradient norm at initialization against depth", "hidden layers",
                      "‖dL/dW_1‖ / ‖dL/dW_last hidden‖", {bn_curve, none_curve}, true, "top left"};
        spec.log_x = true;
        spec.reference_y = 10;
        spec.reference_label = "10x (the rule's explosion)";
        return fmt::format("### Where it holds\n\nThe verdict at each depth of the deep-MLP check (geometric mean over "
                           "seeds; the landscape measures are the CNN's, the same at every depth): **{}**.\n\n",
                           describe_series(series)) +
               t.markdown() + figure(ctx_.dir(), "explosion_vs_depth", spec, "Geometric mean over seeds, band: min to max.");
    }

    DeepInit deep_mlp_at_init(const std::string& norm, int hidden_layers) const {
        DeepInit out;
        const ModelConfig model{.arch = "mlp", .norm = norm, .activation = "relu", .mlp_hidden_layers = hidden_layers};
        const InputSpec input{data_.train.channels, data_.train.height, data_.train.width,
                              static_cast<int64_t>(data_.train.class_names.size())};
        for (int s = 0; s < seeds_; ++s) {
            auto mlp = make_model(model, input, static_cast<uint64_t>(s));
            const LandscapeSample at_init = probe_landscape(*mlp, probe_batch_, kLearningRate, {});
            out.norms.push_back(at_init.layer_grad_norms);
            if (out.layers.empty())
                for (const WeightLayer& l : weight_layers(*mlp)) out.layers.push_back(l.name);
        }
        return out;
    }

    // Per-seed none/bn ratios of a measure (median over training), and the table row.
    std::vector<double> compare(const std::map<std::string, std::vector<ArmSeed>>& arms, const std::string& what,
                                Measure measure, Table& table) const {
        std::map<std::string, std::vector<double>> per_arm;
        for (const std::string& norm : kArms)
            for (const ArmSeed& a : arms.at(norm)) per_arm[norm].push_back(median_over_training(a.samples, measure));
        std::vector<double> ratios;
        for (size_t i = 0; i < per_arm["none"].size(); ++i) ratios.push_back(per_arm["none"][i] / per_arm["bn"][i]);
        table.rows.push_back({what, mean_std_ci_significant(per_arm["none"]), mean_std_ci_significant(per_arm["bn"]),
                              mean_std_ci_significant(ratios), clearly_smaller_with_bn(ratios) ? "yes" : "no"});
        return ratios;
    }

    SmoothnessFindings report_landscape(const std::map<std::string, std::vector<ArmSeed>>& arms, std::string& body) {
        body += fmt::format("### Loss landscape along the gradient: cifar-cnn, plain SGD lr {}, batch {}, {} steps, "
                            "{} paired seed(s)\n\n",
                            kLearningRate, batch_size(), steps(), seeds_);
        body += fmt::format("Every {} steps, on a fixed batch of {} training images: g = grad L(w); the loss at "
                            "w - eta g for eta = {{0.25, 0.5, 1, 2, 4}} x lr; the gradient there. Each cell is the "
                            "median over the run's probes, then mean ± std [95% bootstrap CI] over seeds; the ratio "
                            "column is none/BN per seed.\n\n",
                            probe_every(), batch_size());
        Table table{{"measure (median over training)", "none", "bn", "ratio none/bn", "clearly smaller with BN"}, {}};
        SmoothnessFindings f;
        f.loss_range = compare(arms, "loss range max-min L(w - eta g)", &LandscapeSample::loss_range, table);
        f.grad_change = compare(arms, "max gradient change ‖grad L(w) - grad L(w - eta g)‖",
                                &LandscapeSample::max_grad_change, table);
        f.beta = compare(arms, "effective beta: max gradient change / ‖eta g‖", &LandscapeSample::beta_smoothness, table);
        f.layer_spread = compare(arms, "per-layer spread: max/min of ‖dL/dW_l‖", &LandscapeSample::layer_spread, table);
        body += table.markdown();
        body += "How to read it: the loss range and the gradient change are taken at the same etas in both arms, so "
                "an arm with a smaller gradient moves less along it and looks smoother for that reason alone "
                "(Santurkar et al. compare the same way). The effective beta divides by the step length ‖eta g‖: on "
                "a quadratic it is ‖H g‖/‖g‖, the curvature along the gradient, whatever the gradient's size.\n\n";

        Table accuracy{{"arm", "validation accuracy % after training", "runs diverged"}, {}};
        for (const std::string& norm : kArms) {
            std::vector<double> acc;
            int diverged = 0;
            for (const ArmSeed& a : arms.at(norm)) {
                acc.push_back(a.validation_accuracy);
                diverged += a.diverged;
            }
            accuracy.rows.push_back({norm, mean_std_ci(acc, 100, 2), std::to_string(diverged)});
        }
        body += "For context, where training got (the landscape is measured, not the accuracy):\n\n" + accuracy.markdown();

        Table layers{{"layer", "none: median ‖dL/dW‖", "bn: median ‖dL/dW‖"}, {}};
        for (size_t l = 0; l < layer_names_.size(); ++l) {
            std::vector<std::string> row{layer_names_[l]};
            for (const std::string& norm : kArms) {
                std::vector<double> per_seed;
                for (const ArmSeed& a : arms.at(norm)) {
                    std::vector<double> v;
                    for (const LandscapeSample& s : a.samples) v.push_back(s.layer_grad_norms[l]);
                    per_seed.push_back(median_of(v));
                }
                row.push_back(mean_std_ci_significant(per_seed));
            }
            layers.rows.push_back(row);
        }
        body += "Per-layer gradient norms (median over training, mean ± std [95% CI] over seeds):\n\n" + layers.markdown();
        plot_landscape(arms, body);
        return f;
    }

    void plot_landscape(const std::map<std::string, std::vector<ArmSeed>>& arms, std::string& body) const {
        std::vector<double> steps;
        for (const LandscapeSample& s : arms.at("bn").front().samples) steps.push_back(static_cast<double>(s.step));
        // One curve over the probes: a measure's mean over seeds, with the min..max band over seeds.
        const auto curve = [&](const std::string& label, const std::string& norm,
                               const std::function<double(const LandscapeSample&)>& measure) {
            std::vector<std::vector<double>> runs;  // [seed][probe]
            for (const ArmSeed& a : arms.at(norm)) {
                runs.emplace_back();
                for (const LandscapeSample& s : a.samples) runs.back().push_back(measure(s));
            }
            return band_curve(label, steps, runs);
        };
        const auto lowest = [](const LandscapeSample& s) { return *std::min_element(s.loss_along.begin(), s.loss_along.end()); };
        const auto highest = [](const LandscapeSample& s) { return *std::max_element(s.loss_along.begin(), s.loss_along.end()); };

        // The envelope: min..max of L(w - eta g) over the eta grid (means over seeds), line at eta = lr.
        std::vector<Curve> envelope, change, beta;
        for (const std::string& norm : kArms) {
            Curve c = curve(norm, norm, [](const LandscapeSample& s) { return s.loss_along[2]; });
            c.low = curve(norm, norm, lowest).mean;
            c.high = curve(norm, norm, highest).mean;
            envelope.push_back(c);
            change.push_back(curve(norm, norm, [](const LandscapeSample& s) { return s.max_grad_change(); }));
            beta.push_back(curve(norm, norm, [](const LandscapeSample& s) { return s.beta_smoothness(); }));
        }
        body += figure(ctx_.dir(), "loss_landscape",
                       {"Loss along the gradient: L(w - eta g), eta in {0.25 ... 4} x lr", "step",
                        "loss on the probe batch", envelope, false, "top right"},
                       "Line: the loss after a step of eta = lr; band: min to max over the eta grid (means over "
                       "seeds). A narrower band is a smoother landscape along the gradient (Santurkar et al. Fig. 4a).");
        body += figure(ctx_.dir(), "gradient_predictiveness",
                       {"Gradient change along the gradient", "step", "max over eta of ‖grad L(w) - grad L(w - eta g)‖",
                        change, true, "top right"},
                       "Lower: more predictive gradients (Santurkar et al. Fig. 4b). Bands: min to max over seeds.");
        body += figure(ctx_.dir(), "effective_beta",
                       {"Effective beta-smoothness", "step", "max over eta of gradient change / ‖eta g‖", beta, true,
                        "top right"},
                       "Lower: smoother (Santurkar et al. Fig. 4c). Bands: min to max over seeds.");
        for (const std::string& norm : kArms) {
            std::vector<Curve> per_layer;
            for (size_t l = 0; l < layer_names_.size(); ++l)
                per_layer.push_back(curve(layer_names_[l], norm, [l](const LandscapeSample& s) { return s.layer_grad_norms[l]; }));
            body += figure(ctx_.dir(), "layer_grad_norms_" + norm,
                           {fmt::format("Per-layer gradient norms, {}", norm), "step", "‖dL/dW_l‖ on the probe batch",
                            per_layer, true, "top right"},
                           fmt::format("{}: one curve per weight layer; the vertical distance between the curves is "
                                       "the per-layer spread.",
                                       norm));
        }
    }

    void report_deep(const std::map<std::string, DeepInit>& deep, SmoothnessFindings& f, std::string& body) const {
        body += fmt::format("### Yang et al.'s check: a {}-layer ReLU MLP (width 100) at initialization\n\n", kDeepLayers);
        body += fmt::format("Gradient norms per layer on the same probe batch (training mode, so BN uses the batch's "
                            "statistics), {} seed(s). \"first/last\" is ‖dL/dW‖ of the first hidden layer over that of "
                            "the last hidden layer (fc{}); \"growth per layer\" is the geometric-mean factor by which "
                            "‖dL/dW‖ grows per layer going back from fc{} to fc2 (fc1's input is the image, not a "
                            "hidden layer, so it is left out of the rate).\n\n",
                            seeds_, kDeepLayers, kDeepLayers);
        Table table{{"arm", "‖dL/dW‖ fc1", fmt::format("‖dL/dW‖ fc{}", kDeepLayers), "first/last (geometric mean)",
                     "first/last per seed", "growth per layer"},
                    {}};
        std::vector<Curve> curves;
        for (const std::string& norm : kArms) {
            const DeepInit& d = deep.at(norm);
            std::vector<double> first, last, ratio, growth;
            const size_t last_hidden = kDeepLayers - 1;  // fc20; fc21 is the classifier
            for (const auto& norms : d.norms) {
                first.push_back(norms[0]);
                last.push_back(norms[last_hidden]);
                ratio.push_back(norms[0] / norms[last_hidden]);
                growth.push_back(std::pow(norms[1] / norms[last_hidden], 1.0 / static_cast<double>(last_hidden - 1)));
            }
            (norm == "bn" ? f.deep_bn_first_over_last : f.deep_none_first_over_last) = geometric_mean(ratio);
            std::vector<std::string> per_seed;
            for (double r : ratio) per_seed.push_back(significant(r));
            table.rows.push_back({norm, mean_std_ci_significant(first), mean_std_ci_significant(last),
                                  significant(geometric_mean(ratio)), fmt::format("{}", fmt::join(per_seed, ", ")),
                                  significant(geometric_mean(growth))});
            std::vector<double> layer_index;
            for (size_t l = 0; l < d.layers.size(); ++l) layer_index.push_back(static_cast<double>(l + 1));
            curves.push_back(band_curve(norm, layer_index, d.norms));
        }
        body += table.markdown();
        body += figure(ctx_.dir(), "deep_mlp_at_init",
                       {fmt::format("{}-layer ReLU MLP at initialization", kDeepLayers), "layer (1 = input side)",
                        "‖dL/dW_l‖", curves, true, "top right"},
                       fmt::format("Layer {} is the classifier. Bands: min to max over seeds.", kDeepLayers + 1));
    }

    FixedBatch probe_batch_;
    std::vector<std::string> layer_names_;
};

}  // namespace

Claim gradients_claim() {
    return {
        "gradients",
        "More stable gradients and a smoother landscape",
        "BatchNorm makes gradients more stable and the loss landscape smoother (more Lipschitz loss, more predictive "
        "gradients), which is why it helps optimization.",
        "Santurkar et al. 2018 (NeurIPS, \"How Does Batch Normalization Help Optimization?\"): on VGG/CIFAR-10, BN "
        "narrows the range of the loss along the gradient, the change of the gradient along it, and the effective "
        "beta-smoothness (Fig. 4). Ioffe & Szegedy 2015 §3.3 conjecture Jacobian singular values near 1. "
        "Counterpoint, Yang et al. 2019 (ICLR, mean-field theory): deep BN networks without skip connections have "
        "gradients that explode with depth at initialization.",
        "cifar-cnn (5 convs, VGG-style) on CIFAR-10 with and without BN, same LR (plain SGD, lr 0.1, batch 128), 3 "
        "epochs, 5 paired seeds. Every 50 steps on a fixed training batch: per-layer ‖dL/dW‖, L(w - eta g) for eta "
        "in {0.25, 0.5, 1, 2, 4} x lr, max over eta of ‖grad L(w) - grad L(w - eta g)‖ and of that over ‖eta g‖. "
        "Measurements are taken on a copy of the state and undone, so training is unaffected. Then a 20-layer ReLU "
        "MLP (width 100) at initialization, with and without BN: per-layer ‖dL/dW‖ on the same batch.",
        "For each of four measures (median over training per run): loss range over the eta grid, max gradient change, "
        "effective beta, and per-layer spread max/min ‖dL/dW_l‖, BN is \"clearly smaller\" if the per-seed ratio "
        "none/BN has mean >= 1.5 and a 95% bootstrap CI above 1. Confirmed if all four are clearly smaller and the "
        "20-layer BN MLP's first-layer ‖g‖ is less than 10x its last hidden layer's at initialization; \"depends\" "
        "if all four are smaller but the deep BN MLP's ratio is >= 10 (Yang's explosion), or if only some measures "
        "are smaller; refuted if none is.",
        run_experiment<GradientsExperiment>,
    };
}

}  // namespace bnlab::claims
