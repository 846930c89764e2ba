// Claim 9: BatchNorm works by reducing internal covariate shift (the BN paper's Fig. 1).
//
// The exact Fig. 1 network: MNIST, 784-100-100-100-10 with sigmoids, weights ~ N(0, 0.01^2),
// batch 60, plain SGD at lr 0.5, arms none / bn (BN before every hidden sigmoid) / noisy-bn
// (BN followed by a random per-unit affine redrawn each step, Santurkar et al. 2018). The
// regime axis is depth: the same network with 3 hidden layers (Fig. 1's) and with 6, since
// the ICS argument is about shifts that compound through layers. Every 100 steps, without
// disturbing training (probes.h):
//   - the 15/50/85th percentiles, over 1000 fixed test images, of each last-hidden-layer unit's
//     sigmoid input (the output of its BN, or of its Linear for none), in training mode;
//   - test accuracy on the same 1000 images (eval mode);
//   - Santurkar's ICS of layers fc2..classifier on a fixed training batch of 60: ||G - G'|| and
//     cos(G, G'); the verdict uses the last hidden layer's (fc3 in Fig. 1's network).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>

#include "core/error.h"
#include "core/json_integer.h"
#include "experiments/claims/claims.h"
#include "experiments/claims/data.h"
#include "experiments/claims/probes.h"
#include "experiments/claims/records.h"
#include "experiments/claims/regime.h"
#include "experiments/claims/report.h"
#include "experiments/claims/run_config.h"
#include "experiments/plot.h"
#include "layers/simple.h"

namespace bnlab::claims {

namespace {
// A drift in text: huge ones (a near-zero final spread) in short scientific notation.
std::string drift_text(double drift) { return std::isfinite(drift) && drift >= 1000 ? fmt::format("{:.2g}", drift) : number(drift, 2); }
}  // namespace

std::pair<std::string, std::string> covariate_shift_verdict(const CovariateShiftFindings& f) {
    // Ioffe's Fig. 1.
    const bool bn_steadier = f.drift_bn < f.drift_none;
    const bool bn_flat = f.drift_bn <= 0.5, none_drifts = f.drift_none >= 1.0;
    // Santurkar's control: noisy BN trains as well as BN although its covariate shift is high.
    const bool santurkar = f.accuracy_noisy_bn >= f.accuracy_bn - 1.0 && f.ics_noisy_bn >= f.ics_none;
    const std::string numbers = fmt::format(
        "percentile drift (range over training / final 15-85 spread): BN {}, none {}; noisy BN {:.2f}% vs BN {:.2f}% "
        "test accuracy with ICS ‖G-G'‖/‖G‖ {} vs none's {}",
        drift_text(f.drift_bn), drift_text(f.drift_none), f.accuracy_noisy_bn, f.accuracy_bn, number(f.ics_noisy_bn, 3),
        number(f.ics_none, 3));
    if (!bn_steadier) return {"refuted", "BN's input distributions drift as much as the baseline's: " + numbers};
    const std::string ioffe = bn_flat && none_drifts ? "BN keeps the sigmoid inputs flat while the baseline's drift"
                                                     : "BN keeps the sigmoid inputs steadier than the baseline's";
    if (santurkar)
        return {"depends", ioffe + ", but noisy BN, with at least the baseline's covariate shift, trains as well as BN: "
                                   "reduced ICS is not why BN helps (" + numbers + ")"};
    if (bn_flat && none_drifts) return {"confirmed", numbers};
    return {"depends", ioffe + ", but " + (bn_flat ? "the baseline does not drift" : "BN is not flat") +
                           " by the rule's thresholds (" + numbers + ")"};
}

namespace {

const std::vector<std::string> kArms{"none", "bn", "noisy-bn"};
constexpr std::array<double, 3> kPercentiles{15, 50, 85};

// What one probe saw.
struct ShiftSample {
    int64_t step = 0;
    std::vector<std::array<double, 3>> unit_percentiles;  // [unit] -> 15/50/85th percentile
    std::vector<IcsSample> ics;             // per ICS layer, the noise redrawn for G' (as the next step)
    std::vector<IcsSample> ics_same_noise;  // per ICS layer, the noise of G kept (only for random layers)
};

// Index of the last Sigmoid among the Sequential's children: its input is the "sigmoid input".
size_t last_sigmoid(Sequential& model) {
    for (size_t i = model.size(); i-- > 0;)
        if (dynamic_cast<Sigmoid*>(&model[i])) return i;
    throw Error("covariate-shift: the model has no sigmoid");
}

class ShiftProbe : public PeriodicProbe {
public:
    ShiftProbe(int64_t every, const FixedBatch& percentile_images, const FixedBatch& ics_batch, double lr)
        : PeriodicProbe(every), images_(percentile_images), ics_batch_(ics_batch), lr_(lr) {}
    std::vector<ShiftSample> samples;
    std::vector<std::string> ics_layer_names;

protected:
    void measure(Trainer& trainer, int64_t step) override {
        Sequential& model = trainer.model();
        ShiftSample s{step, sigmoid_input_percentiles(model), {}, {}};
        const bool random_layers = !model.named_generators().empty();
        const std::vector<WeightLayer> layers = weight_layers(model);
        for (size_t l = 1; l < layers.size(); ++l) {  // fc1 has no earlier layer to shift its input
            s.ics.push_back(probe_ics(model, ics_batch_, lr_, layers[l].child, true));
            if (random_layers) s.ics_same_noise.push_back(probe_ics(model, ics_batch_, lr_, layers[l].child, false));
        }
        if (ics_layer_names.empty())
            for (size_t l = 1; l < layers.size(); ++l) ics_layer_names.push_back(layers[l].name);
        samples.push_back(std::move(s));
    }

private:
    // Per unit of the last hidden layer, the 15/50/85th percentiles of its sigmoid input over the
    // probe images, as training sees them (batch statistics; noisy BN's noise drawn).
    std::vector<std::array<double, 3>> sigmoid_input_percentiles(Sequential& model) const {
        ModelRestorer keep(model);
        model.train();
        const Tensor z = input_of(model, images_.images, last_sigmoid(model));  // (images, units)
        const int64_t n = z.dim(0), units = z.dim(1);
        std::vector<std::array<double, 3>> out;
        std::vector<float> column(static_cast<size_t>(n));
        for (int64_t u = 0; u < units; ++u) {
            for (int64_t i = 0; i < n; ++i) column[static_cast<size_t>(i)] = z.data()[i * units + u];
            const std::vector<double> p = percentiles(column, kPercentiles);
            out.push_back({p[0], p[1], p[2]});
        }
        return out;
    }

    const FixedBatch& images_;
    const FixedBatch& ics_batch_;
    double lr_;
};

struct ArmSeed {
    std::vector<ShiftSample> samples;
    std::vector<MetricsRow> rows;
    double test_accuracy = NAN;  // on the whole test set, after training
};

// Drift of one unit: the largest range over training of its 15th/50th/85th percentile, divided by
// its final 15-85 spread (scale-free: "moves by more than its own width" is a drift of 1).
double unit_drift(const std::vector<ShiftSample>& samples, size_t unit) {
    double largest_range = 0;
    for (size_t q = 0; q < kPercentiles.size(); ++q) {
        double low = INFINITY, high = -INFINITY;
        for (const ShiftSample& s : samples) {
            low = std::min(low, s.unit_percentiles[unit][q]);
            high = std::max(high, s.unit_percentiles[unit][q]);
        }
        largest_range = std::max(largest_range, high - low);
    }
    const auto& last = samples.back().unit_percentiles[unit];
    return largest_range / (last[2] - last[0]);
}

// The median unit's drift, and which unit that is (the "typical" sigmoid that gets plotted).
std::pair<double, size_t> typical_drift(const std::vector<ShiftSample>& samples) {
    std::vector<std::pair<double, size_t>> drifts;
    for (size_t u = 0; u < samples.front().unit_percentiles.size(); ++u) drifts.emplace_back(unit_drift(samples, u), u);
    std::nth_element(drifts.begin(), drifts.begin() + static_cast<std::ptrdiff_t>(drifts.size() / 2), drifts.end());
    return drifts[drifts.size() / 2];
}

// Per seed, the median over the run's probes of one ICS field of ICS layer `layer` (same_noise:
// the noise-kept variant, where the model has random layers).
std::vector<double> median_ics(const std::vector<ArmSeed>& runs, size_t layer, double IcsSample::*field, bool same_noise) {
    std::vector<double> per_seed;
    for (const ArmSeed& a : runs) {
        std::vector<double> v;
        for (const ShiftSample& s : a.samples)
            v.push_back((same_noise && !s.ics_same_noise.empty() ? s.ics_same_noise : s.ics)[layer].*field);
        per_seed.push_back(median_of(v));
    }
    return per_seed;
}

class CovariateShiftExperiment : public Experiment {
public:
    // Every training and test image; 5 seeds: noisy BN vs BN is a difference under 1 point.
    explicit CovariateShiftExperiment(ClaimContext& ctx) : Experiment(ctx, "mnist", {}, 1, 5) {}

    ClaimResult run() {
        const Dataset& train = data_.train;
        const Dataset& test = data_.test;
        probe_images_ = subset(test, 0, kProbeImages, test.name + "[:1000]");
        percentile_batch_ = fixed_batch(test, 0, kProbeImages, train);
        ics_batch_ = fixed_batch(train, 0, kBatch, train);

        ClaimResult result;
        result.data = fmt::format("{}: {} training images; percentiles and accuracy curves on the first {} test "
                                  "images, final accuracy on all {} test images",
                                  data_.dataset, train.size(), kProbeImages, test.size());
        RegimeSeries series{"sigmoid MLP (width 100, weights N(0, 0.01²))", "hidden layers", {}};
        std::string sections;
        std::vector<std::string> reasons, keys;
        for (const int hidden : kHiddenLayers) {
            ics_layers_.clear();
            std::map<std::string, std::vector<ArmSeed>> arms;
            std::vector<std::pair<int, std::string>> jobs;  // (seed, arm), spread over the ranks
            for (int s = 0; s < seeds_; ++s)
                for (const std::string& norm : kArms) jobs.emplace_back(s, norm);
            const std::vector<nlohmann::json> trained = ctx_.spread(jobs.size(), [&](size_t i) {
                return arm_seed_json(train_arm(jobs[i].second, static_cast<uint64_t>(jobs[i].first), hidden));
            });
            for (size_t i = 0; i < jobs.size(); ++i) arms[jobs[i].second].push_back(arm_seed_from_json(trained[i]));
            CovariateShiftFindings f;
            std::string section;
            report_percentiles(arms, f, section, hidden);
            report_accuracy_and_ics(arms, f, section, hidden);
            const auto [verdict, reason] = covariate_shift_verdict(f);
            series.points.push_back({static_cast<double>(hidden), verdict,
                                     fmt::format("drift BN {} vs none {}; noisy BN {:+.2f} points vs BN",
                                                 drift_text(f.drift_bn), drift_text(f.drift_none),
                                                 f.accuracy_noisy_bn - f.accuracy_bn)});
            std::string untrained;
            if (f.accuracy_none < 20)
                untrained = fmt::format(
                    " Without a norm this network does not learn ({:.1f}% test accuracy): its last hidden layer sees "
                    "almost the same input for every image, so a drift divides by a near-zero spread and says only "
                    "that the baseline's inputs move.",
                    f.accuracy_none);
            sections += fmt::format("### {} hidden layers{}\n\nVerdict at this depth: **{}**: {}.{}\n\n", hidden,
                                    hidden == 3 ? " (Fig. 1's network)" : "", verdict, reason, untrained) +
                        section;
            reasons.push_back(fmt::format("{} hidden layers: {}: {}", hidden, verdict, reason));
            keys.push_back(fmt::format("{} hidden: drift BN {} vs none {}; noisy BN {:.2f}% vs BN {:.2f}% with ICS {} "
                                       "vs none {}",
                                       hidden, drift_text(f.drift_bn), drift_text(f.drift_none), f.accuracy_noisy_bn,
                                       f.accuracy_bn, number(f.ics_noisy_bn, 3), number(f.ics_none, 3)));
        }
        result.set_regime(series, "depth (hidden layers of the sigmoid MLP)", reasons, keys);
        Table where{{"model", "where BN works by reducing covariate shift"}, {{series.family, describe_series(series)}}};
        result.body = "### Where it holds\n\n" + where.markdown() + sections;
        result.deviations = {
            "The BN paper gives no learning rate or optimizer for Fig. 1; plain SGD at lr 0.5 is the reference "
            "reproduction's (Brandon-HY-Lin/deep_learning_comparision), and N(0, 0.01^2) stands in for its \"small "
            "random Gaussian\" init (biases 0; BN layers start at gamma 1, beta 0).",
            "Percentiles are of the sigmoid input as training sees it (training mode: BN normalizes the 1000 probe "
            "images with their own statistics; noisy BN's noise is drawn), not of the eval-mode network.",
            "Santurkar's ICS is measured on one fixed training batch of 60 rather than on each step's batch: G is the "
            "gradient of fc_k's weight on it, G' the same after the layers before fc_k took their plain-SGD step on "
            "it. For noisy BN, G' sees a new noise draw, as the next step does; the same-noise value is reported too."};
        if (steps() < 50000)
            result.deviations.push_back(fmt::format("{} steps instead of 50,000{}.", steps(),
                                                    ctx_.quick() ? " (quick profile: a smoke test, not evidence)" : ""));
        if (seeds_ < 5) result.deviations.push_back(fmt::format("{} seed(s) instead of 5.", seeds_));
        return result;
    }

private:
    static constexpr int64_t kBatch = 60;
    static constexpr double kLearningRate = 0.5;
    static constexpr int64_t kProbeImages = 1000;
    static constexpr int64_t kProbeEvery = 100;
    // The regime axis: Fig. 1's three hidden layers, and twice as deep.
    static constexpr std::array<int, 2> kHiddenLayers{3, 6};

    int64_t steps() const { return ctx_.quick() ? 1500 : 50000; }

    TrainConfig config(const std::string& norm, uint64_t seed, int hidden) const {
        // 784-100-100-100-10 sigmoid MLP, weights ~ N(0, 0.01^2), plain SGD. One thread: at batch
        // 60 this MLP is too small for a second thread to pay for its synchronization (measured:
        // 2 threads were 20x slower on a busy 2-core machine).
        return run_config(data_.train,
                          {.arch = "mlp", .norm = norm, .mlp_hidden_layers = hidden, .init_scale = 0.01f, .init = "gaussian"},
                          {.lr = kLearningRate, .momentum = 0.0, .batch = kBatch, .steps = steps(),
                           .eval_every = kProbeEvery, .seed = seed, .threads = 1});
    }

    // An arm's seed as spread() sends it (with the ICS layers' names, which any run knows).
    nlohmann::json arm_seed_json(const ArmSeed& a) const {
        const auto ics = [](const std::vector<IcsSample>& xs) {
            nlohmann::json out = nlohmann::json::array();
            for (const IcsSample& x : xs) out.push_back({number_json(x.distance), number_json(x.relative), number_json(x.cosine)});
            return out;
        };
        nlohmann::json samples = nlohmann::json::array();
        for (const ShiftSample& p : a.samples) {
            nlohmann::json percentiles = nlohmann::json::array();
            for (const auto& unit : p.unit_percentiles) percentiles.push_back(numbers_json({unit.begin(), unit.end()}));
            samples.push_back({p.step, percentiles, ics(p.ics), ics(p.ics_same_noise)});
        }
        return {{"samples", samples}, {"rows", metrics_rows_json(a.rows)},
                {"test_accuracy", number_json(a.test_accuracy)}, {"ics_layers", ics_layers_}};
    }

    ArmSeed arm_seed_from_json(const nlohmann::json& j) {
        const auto ics = [](const nlohmann::json& xs) {
            std::vector<IcsSample> out;
            for (const auto& x : xs)
                out.push_back({number_from_json(x.at(0)), number_from_json(x.at(1)), number_from_json(x.at(2))});
            return out;
        };
        ArmSeed a;
        for (const auto& p : j.at("samples")) {
            ShiftSample sample{json_integer<int64_t>(p.at(0)), {}, ics(p.at(2)), ics(p.at(3))};
            for (const auto& unit : p.at(1)) {
                const std::vector<double> v = numbers_from_json(unit);
                sample.unit_percentiles.push_back({v.at(0), v.at(1), v.at(2)});
            }
            a.samples.push_back(std::move(sample));
        }
        a.rows = metrics_rows_from_json(j.at("rows"));
        a.test_accuracy = number_from_json(j.at("test_accuracy"));
        if (ics_layers_.empty()) ics_layers_ = j.at("ics_layers").get<std::vector<std::string>>();
        return a;
    }

    ArmSeed train_arm(const std::string& norm, uint64_t seed, int hidden) {
        ShiftProbe probe(kProbeEvery, percentile_batch_, ics_batch_, kLearningRate);
        TrainedRun run = ctx_.train(fmt::format("mlp{}h-{}-seed{}", hidden, norm, seed), config(norm, seed, hidden),
                                    data_.train, probe_images_, &probe);
        if (ics_layers_.empty()) ics_layers_ = probe.ics_layer_names;
        const EvalResult final_test = evaluate(run.trainer->model(), data_.test, 0, 1000, data_.train.mean, data_.train.std);
        return {std::move(probe.samples), run.rows, 100 * final_test.accuracy};
    }

    std::vector<double> steps_axis(const std::vector<ShiftSample>& samples) const {
        std::vector<double> x;
        for (const ShiftSample& s : samples) x.push_back(static_cast<double>(s.step));
        return x;
    }

    void report_percentiles(const std::map<std::string, std::vector<ArmSeed>>& arms, CovariateShiftFindings& f,
                            std::string& body, int hidden) const {
        body += fmt::format("#### Fig. 1: the last hidden layer's sigmoid inputs over {} steps\n\n", steps());
        body += "Per unit of the last hidden layer, the 15th/50th/85th percentiles of its sigmoid input over the "
                "1000 probe images, every 100 steps. A unit's drift is the largest range over training of one of its "
                "three percentiles divided by its final 15-85 spread (1 = it moved by its own width); the arm's "
                "drift is the median over the 100 units, and the plots show that median (\"typical\") unit of seed "
                "0. The rule calls BN flat at drift <= 0.5 and the baseline drifting at >= 1. BN's percentiles are steady "
                "largely by construction (each unit is normalized over the batch; only its gamma and beta move it), "
                "which is why Santurkar's gradient-based ICS is reported below as well.\n\n";
        Table table{{"arm", "drift of the typical unit (mean ± std [95% CI])", "typical unit's 15/50/85th at the first probe",
                     "... at the last probe"},
                    {}};
        for (const std::string& norm : kArms) {
            std::vector<double> drift;
            for (const ArmSeed& a : arms.at(norm)) drift.push_back(typical_drift(a.samples).first);
            const auto& seed0 = arms.at(norm).front().samples;
            const size_t unit = typical_drift(seed0).second;
            const auto triple = [&](const ShiftSample& s) {
                const auto& p = s.unit_percentiles[unit];
                return fmt::format("{:.2f} / {:.2f} / {:.2f}", p[0], p[1], p[2]);
            };
            table.rows.push_back({norm, mean_std_ci(drift, 1, 2), triple(seed0.front()), triple(seed0.back())});
            if (norm == "none") f.drift_none = mean_of(drift);
            if (norm == "bn") f.drift_bn = mean_of(drift);

            std::vector<std::vector<double>> p50(1), p15(1), p85(1);
            for (const ShiftSample& s : seed0) {
                p15[0].push_back(s.unit_percentiles[unit][0]);
                p50[0].push_back(s.unit_percentiles[unit][1]);
                p85[0].push_back(s.unit_percentiles[unit][2]);
            }
            const std::vector<double> x = steps_axis(seed0);
            Curve c = band_curve(fmt::format("unit {}: 50th percentile (band: 15th to 85th)", unit), x, p50);
            c.low = band_curve("", x, p15).mean;
            c.high = band_curve("", x, p85).mean;
            body += figure(ctx_.dir(), fmt::format("percentiles_{}_h{}", norm, hidden),
                           {fmt::format("{}: input to a typical last-hidden-layer sigmoid", norm), "step", "sigmoid input",
                            {c}, false, "top right"});
        }
        body += table.markdown();
    }

    void report_accuracy_and_ics(const std::map<std::string, std::vector<ArmSeed>>& arms, CovariateShiftFindings& f,
                                 std::string& body, int hidden) const {
        // ICS layers are fc2 .. the classifier; the verdict's is the last hidden layer, the one
        // before the classifier. The table shows fc2, that layer and the classifier.
        const size_t verdict_layer = ics_layers_.size() - 2;
        const std::string& verdict_name = ics_layers_[verdict_layer];
        std::vector<size_t> shown{0};
        for (const size_t l : {verdict_layer, ics_layers_.size() - 1})
            if (l != shown.back()) shown.push_back(l);
        body += "#### Accuracy, and Santurkar's internal covariate shift\n\n";
        body += fmt::format(
            "ICS of layer fc_k (Santurkar et al. 2018, Def. 2.1) on a fixed training batch of 60, every 100 steps: "
            "G = dL/dW_k; G' = the same after fc_1..fc_{{k-1}} (and their BN) took their SGD step on that batch. "
            "Cells: the median over training, then mean ± std [95% CI] over seeds. {} is the classifier, whose "
            "input is the sigmoid output tracked above.\n\n",
            ics_layers_.back());
        std::vector<std::string> header{"arm", "test accuracy % (10,000 images)"};
        for (const size_t l : shown) {
            header.push_back(ics_layers_[l] + ": ‖G-G'‖/‖G‖");
            header.push_back(ics_layers_[l] + ": cos(G, G')");
        }
        header.push_back(verdict_name + ": ‖G-G'‖/‖G‖, noise of G kept");
        Table table{header, {}};
        for (const std::string& norm : kArms) {
            const std::vector<ArmSeed>& runs = arms.at(norm);
            std::vector<double> accuracy;
            for (const ArmSeed& a : runs) accuracy.push_back(a.test_accuracy);
            std::vector<std::string> row{norm, mean_std_ci(accuracy, 1, 2)};
            for (const size_t l : shown) {
                row.push_back(mean_std_ci(median_ics(runs, l, &IcsSample::relative, false), 1, 3));
                row.push_back(mean_std_ci(median_ics(runs, l, &IcsSample::cosine, false), 1, 3));
            }
            const bool noisy = !runs.front().samples.front().ics_same_noise.empty();
            row.push_back(noisy ? mean_std_ci(median_ics(runs, verdict_layer, &IcsSample::relative, true), 1, 3)
                                : "as before (no noise)");
            table.rows.push_back(row);
            const double ics = mean_of(median_ics(runs, verdict_layer, &IcsSample::relative, false));
            if (norm == "none") {
                f.ics_none = ics;
                f.accuracy_none = mean_of(accuracy);
            }
            if (norm == "bn") f.accuracy_bn = mean_of(accuracy);
            if (norm == "noisy-bn") {
                f.ics_noisy_bn = ics;
                f.accuracy_noisy_bn = mean_of(accuracy);
            }
        }
        body += table.markdown();

        std::vector<Curve> accuracy_curves, ics_curves;
        for (const std::string& norm : kArms) {
            std::vector<const std::vector<MetricsRow>*> rows;
            for (const ArmSeed& a : arms.at(norm)) rows.push_back(&a.rows);
            accuracy_curves.push_back(band_curve(norm, rows, &MetricsRow::test_accuracy));
            std::vector<std::vector<double>> relative;  // [seed][probe]
            for (const ArmSeed& a : arms.at(norm)) {
                relative.emplace_back();
                for (const ShiftSample& s : a.samples) relative.back().push_back(s.ics[verdict_layer].relative);
            }
            ics_curves.push_back(band_curve(norm, steps_axis(arms.at(norm).front().samples), relative));
        }
        body += figure(ctx_.dir(), fmt::format("test_accuracy_h{}", hidden),
                       {"Test accuracy on the 1000 probe images (eval mode)", "step", "accuracy", accuracy_curves},
                       "Like Fig. 1a. Bands: min to max over seeds.");
        body += figure(ctx_.dir(), fmt::format("ics_h{}", hidden),
                       {fmt::format("Internal covariate shift of {} (Santurkar et al.)", verdict_name), "step",
                        "‖G - G'‖ / ‖G‖", ics_curves, true, "bottom right"},
                       "Higher: the layer's gradient changes more when the layers before it take their step. Bands: "
                       "min to max over seeds.");
    }

    Dataset probe_images_;
    FixedBatch percentile_batch_, ics_batch_;
    std::vector<std::string> ics_layers_;
};

}  // namespace

Claim covariate_shift_claim() {
    return {
        "covariate-shift",
        "Reducing internal covariate shift",
        "BatchNorm works by reducing internal covariate shift: it keeps the distribution of each layer's inputs fixed "
        "during training (the BN paper's Fig. 1), and that is why it trains faster.",
        "Ioffe & Szegedy 2015, Fig. 1: on MNIST (3x100 sigmoid MLP, batch 60, 50,000 steps) the 15/50/85th "
        "percentiles of a last-hidden-layer sigmoid input drift in mean and variance without BN and are \"much more "
        "stable\" with it. Santurkar et al. 2018: BN followed by noise redrawn every step (\"noisy BN\", high "
        "covariate shift) trains about as well as BN, so reducing ICS is not the mechanism; by their gradient-based "
        "ICS measure BN does not reduce ICS (recalled, unverified).",
        "The exact Fig. 1 setup on full MNIST: 784-100-100-100-10 sigmoid MLP, and the same with 6 hidden layers (the "
        "regime axis: depth), weights N(0, 0.01^2), batch 60, plain "
        "SGD lr 0.5, 50,000 steps, 5 paired seeds, arms none / bn / noisy-bn (BN then per-unit noise, shift ~ "
        "U(-1,1), scale ~ U(0.5,2), redrawn each step). Every 100 steps, without disturbing training: the 15/50/85th "
        "percentiles of each last-hidden-layer unit's sigmoid input over 1000 fixed test images, test accuracy on "
        "them, and Santurkar's ICS (‖G - G'‖ and cos(G, G')) of fc2..the classifier on a fixed training batch.",
        "Drift of a unit = the largest range over training of its 15th/50th/85th percentile / its final 15-85 "
        "spread; an arm's drift = the median over the 100 units (mean over seeds). Ioffe holds if BN is flat (drift "
        "<= 0.5) and the baseline drifts (>= 1). Santurkar is supported if noisy BN's final test accuracy is at least "
        "BN's minus 1 point while its ICS of the last hidden layer (fc3 in Fig. 1's network; median ‖G - G'‖/‖G‖) is at least the baseline's. Refuted if BN's "
        "drift is not below the baseline's; confirmed if Ioffe holds and Santurkar is not supported; \"depends\" "
        "otherwise: if Santurkar is supported (BN steadies the distributions, but that is not why it trains well), or "
        "if BN is steadier without meeting the thresholds. The rule decides at each depth; overall: confirmed if "
        "confirmed at both depths, refuted if at neither, \"depends\" otherwise, naming the depths.",
        run_experiment<CovariateShiftExperiment>,
    };
}

}  // namespace bnlab::claims
