// Claim 3: with BatchNorm the initialization scale matters much less.
//
// The CS231n weight-scale sweep, mapped along depth: fully connected nets of 2, 4 and 8 layers
// (the 8-layer one is CS231n's: 7 hidden layers of 50) with
// ReLU and with sigmoid, weights ~ N(0, s^2) and zero biases (ModelConfig::init "gaussian"),
// s over logspace(-5, 1, 25) (CS231n's 1e-4 .. 1 and a decade beyond each end), Adam 1e-3,
// batch 50, 2 epochs on Fashion-MNIST, 5 paired seeds, with and without BN. Per activation
// and arm: the validation accuracy at each scale, the range of scales within 2 points of the
// arm's best, and whether no-BN is at chance at CS231n's ends. Depth is the regime axis: a
// badly scaled init compounds over layers, so BN has more to repair in a deeper net.
#include <fmt/format.h>

#include <cmath>

#include "core/error.h"
#include "experiments/claims/claims.h"
#include "experiments/claims/regime.h"
#include "experiments/claims/report.h"
#include "experiments/claims/run_config.h"
#include "experiments/claims/sweep.h"

namespace bnlab::claims {

std::string init_scale_verdict(const InitScaleFindings& f) {
    if (f.bn_decades >= 3 && f.none_chance_low_end && f.none_chance_high_end) return "confirmed";
    if (!(f.bn_decades > f.none_decades)) return "refuted";  // also when a number is missing (NaN)
    return "depends";
}

namespace {

constexpr double kTolerance = 0.02;  // "within 2% of its best": 2 points of validation accuracy
constexpr double kChance = 0.10;     // 10 balanced classes
constexpr double kAtChance = 0.15;   // at chance: mean validation accuracy <= 15%

// 5,000 validation images held out of the training split; quick: 5,000 training, 1,000 validation
// and 1,000 test images.
constexpr DataSizes kFullData{.validation_images = 5000};
constexpr DataSizes kQuickData{.train_images = 5000, .validation_images = 1000, .test_images = 1000};

struct ActivationSweep {
    std::string activation;
    int depth = 8;  // weight layers
    GridSweep none, bn;
    Band none_band, bn_band;
    InitScaleFindings findings;
    std::string verdict;
};

class InitScaleExperiment : public Experiment {
public:
    explicit InitScaleExperiment(ClaimContext& ctx)
        : Experiment(ctx, "fashion-mnist", ctx.quick() ? kQuickData : kFullData, 1, 5) {}

    ClaimResult run() {
        // Quarter decades from 1e-5 to 10: CS231n's 1e-4 .. 1 and a decade beyond each end.
        scales_ = quick() ? logspace(-4, 0, 5) : logspace(-5, 1, 25);
        low_end_ = index_of(1e-4);
        high_end_ = index_of(1.0);

        const std::vector<int> depths = quick() ? std::vector<int>{2, 8} : std::vector<int>{2, 4, 8};
        std::vector<ActivationSweep> sweeps;
        std::vector<RegimeSeries> series;
        for (const std::string activation : {"relu", "sigmoid"}) {
            RegimeSeries s{activation, "depth", {}};
            for (int depth : depths) {
                sweeps.push_back(sweep(activation, depth));
                const InitScaleFindings& f = sweeps.back().findings;
                s.points.push_back({double(depth), sweeps.back().verdict,
                                    fmt::format("BN flat over {} decades, none over {}", number(f.bn_decades, 1),
                                                number(f.none_decades, 1))});
            }
            series.push_back(std::move(s));
        }

        ClaimResult result;
        std::vector<std::string> reasons, keys;
        for (const ActivationSweep& a : sweeps) {
            const InitScaleFindings& f = a.findings;
            reasons.push_back(fmt::format(
                "{} depth {}: {} (BN within 2 points of its best over {} decades, no BN over {}; no BN {} at 1e-4 and "
                "{} at 1)",
                a.activation, a.depth, a.verdict, number(f.bn_decades, 1), number(f.none_decades, 1),
                chance_text(a.none, low_end_), chance_text(a.none, high_end_)));
            keys.push_back(fmt::format("{} d{}: BN {} vs none {} decades", a.activation, a.depth,
                                       number(f.bn_decades, 1), number(f.none_decades, 1)));
        }
        result.verdict = overall_verdict(series);
        result.regime_axis = "depth (weight layers), per activation (ReLU, sigmoid)";
        result.where_it_holds = where_it_holds(series);
        result.reason = fmt::format("{}", fmt::join(reasons, "; "));
        result.key_result = fmt::format("{}", fmt::join(keys, "; "));
        result.data = data_.held_out_description();
        result.body = regime_summary(series, sweeps);
        result.body += fmt::format(
            "MLPs of 2, 4 and 8 layers (hidden layers of 50, BatchNorm1d before each activation in the bn arm), weights ~ N(0, "
            "scale²), zero biases, Adam lr 1e-3, batch 50, {} epoch(s), {} paired seed(s) (seed s: the same Gaussian "
            "draw, scaled, in both arms, and the same batch order). Validation accuracy (%) at the end of training, "
            "mean ± std [95% bootstrap CI] over seeds; **bold**: the arm's range within 2 points of its best.\n\n",
            quick() ? 1 : 2, seeds_);
        result.body +=
            "Where BN's scale invariance (BN(Wu) = BN((aW)u), §3.3) ends: it holds while the variance of Wu is well "
            "above BN's eps = 1e-5. With weights ~ N(0, s²), Var(Wu) ≈ fan_in · E[u²] · s²: 784·s² in the first layer "
            "(normalized pixels) and about 15-25·s² in the others (50 inputs after BN and the activation). That "
            "reaches eps at s ≈ 1e-4 in the first layer and s ≈ 7e-4 in the others; below that BN divides by about "
            "sqrt(eps) instead of the standard deviation, and its outputs shrink with s. At large s the forward pass is "
            "still normalized, but the output layer (no BN after it) starts with huge logits, and for weights before "
            "a BN only the direction matters: Adam moves each weight by about lr a step, which turns n weights of "
            "scale s by about lr·sqrt(n)/(s·sqrt(n)) = lr/s radians, so large initial weights learn slowly (the "
            "effective learning rate of van Laarhoven 2017).\n\n";
        for (const ActivationSweep& a : sweeps) body_for(a, result.body);
        result.deviations = {
            "25 scales, logspace(-5, 1, 25) (quarter decades), instead of CS231n's logspace(-4, 0, 20): a decade "
            "beyond each end, where the sweep is cheap (about 3 s a run); the rule's ends are CS231n's, 1e-4 and 1.",
            "Weights are drawn N(0, scale²) in every layer, biases 0, as in CS231n (`weight_scale * randn`), through "
            "bnlab's init gaussian; the default init (PyTorch's kaiming-uniform times the init scale) would give a "
            "different std per layer (1/sqrt(3·fan_in): 0.021 for the 784-input layer, 0.082 for the 50-input "
            "ones) and nonzero biases, so one scale would not mean one weight std.",
            "Full Fashion-MNIST (55,000 training images) instead of CS231n's 1,000 CIFAR-10 images, 2 epochs instead "
            "of 10, as the protocol says.",
            "\"Within 2%\" is read as within 2 percentage points of the arm's best mean validation accuracy, over a "
            "contiguous range of scales; \"at chance\" as a mean validation accuracy <= 15% (chance is 10%). A run "
            "with a non-finite loss counts as chance."};
        if (quick())
            result.deviations.push_back("Quick profile: 5,000 training images, 1,000 validation and 1,000 test images, "
                                        "5 scales (1e-4 .. 1), 1 seed, 1 epoch (100 steps): a smoke test, not evidence.");
        return result;
    }

private:
    size_t index_of(double scale) const {
        for (size_t i = 0; i < scales_.size(); ++i)
            if (std::fabs(std::log10(scales_[i] / scale)) < 1e-6) return i;
        throw Error(fmt::format("init-scale: scale {} is not on the grid", scale));
    }

    TrainConfig config(const std::string& activation, int depth, const std::string& norm, double scale,
                       uint64_t seed) const {
        const ModelConfig model{.arch = "mlp", .norm = norm, .activation = activation, .mlp_hidden_layers = depth - 1,
                                .mlp_width = 50, .init_scale = static_cast<float>(scale), .init = "gaussian"};
        // One thread: 50-wide layers gain nothing from a second one, and on a shared machine
        // OpenMP's barriers made these runs 10x slower with two (measured; ClaimOptions::threads
        // overrides it).
        return run_config(data_.train, model,
                          {.optimizer = "adam", .lr = 1e-3, .batch = 50, .epochs = quick() ? 1 : 2, .seed = seed,
                           .threads = 1});
    }

    GridSweep arm(const std::string& activation, int depth, const std::string& norm) {
        GridSweep sweep{norm, {}};
        std::vector<SweepJob> jobs;  // scale-major: seeds_ jobs per scale
        for (double scale : scales_)
            for (int s = 0; s < seeds_; ++s)
                jobs.push_back({fmt::format("{}{}-{}-scale{}-seed{}", activation, depth, norm, grid_label(scale), s),
                                config(activation, depth, norm, scale, static_cast<uint64_t>(s))});
        const std::vector<SweepRun> runs = train_and_test_all(ctx_, jobs, data_);
        for (auto first = runs.begin(); first != runs.end(); first += seeds_) sweep.runs.emplace_back(first, first + seeds_);
        return sweep;
    }

    ActivationSweep sweep(const std::string& activation, int depth) {
        ctx_.log(fmt::format("init-scale: {} depth {} over {} scales x {} seeds x 2 arms", activation, depth,
                             scales_.size(), seeds_));
        ActivationSweep a{activation, depth, arm(activation, depth, "none"), arm(activation, depth, "bn"), {}, {}, {}, {}};
        const std::vector<double> none = a.none.mean_validation(kChance), bn = a.bn.mean_validation(kChance);
        a.none_band = band_around_best(none, kTolerance);
        a.bn_band = band_around_best(bn, kTolerance);
        a.findings = {a.bn_band.decades(scales_), a.none_band.decades(scales_), none[low_end_] <= kAtChance,
                      none[high_end_] <= kAtChance};
        a.verdict = init_scale_verdict(a.findings);
        return a;
    }

    std::string chance_text(const GridSweep& sweep, size_t i) const {
        const double mean = sweep.mean_validation(kChance)[i];
        return fmt::format("{} ({:.1f}%)", mean <= kAtChance ? "at chance" : "above chance", 100 * mean);
    }

    std::string range_text(const Band& band) const {
        return band.found ? fmt::format("{} .. {} ({} decades)", grid_label(scales_[band.first]),
                                        grid_label(scales_[band.last]), number(band.decades(scales_), 1))
                          : "n/a";
    }

    void body_for(const ActivationSweep& a, std::string& body) const {
        body += fmt::format("### {}, depth {}\n\n", a.activation, a.depth);
        Table by_scale{{"weight scale", "none: validation accuracy", "bn: validation accuracy"}, {}};
        for (size_t i = 0; i < scales_.size(); ++i)
            by_scale.rows.push_back({fmt::format("{:.2g}", scales_[i]), a.none.validation_cell(i, a.none_band),
                                     a.bn.validation_cell(i, a.bn_band)});
        body += by_scale.markdown();
        Table summary{{"arm", "best validation accuracy (scale)", "range within 2 points", "at 1e-4", "at 1",
                       "test accuracy at the best scale"},
                      {}};
        for (const auto& [sweep, band] : {std::pair{&a.none, &a.none_band}, std::pair{&a.bn, &a.bn_band}})
            summary.rows.push_back({sweep->label,
                                    fmt::format("{:.2f}% ({})", 100 * band->best_score, grid_label(scales_[band->best])),
                                    range_text(*band), chance_text(*sweep, low_end_), chance_text(*sweep, high_end_),
                                    mean_std_ci(sweep->test_accuracies(band->best), 100, 2)});
        body += summary.markdown();
        body += fmt::format("Verdict for {} at depth {}: **{}**.\n\n", a.activation, a.depth, a.verdict);
        body += validation_plot_markdown(
            ctx_, fmt::format("validation_by_scale_{}{}", a.activation, a.depth),
            fmt::format("{}-layer MLP, {}: validation accuracy by initial weight scale", a.depth, a.activation),
            "weight scale (std of the initial weights)", scales_, {&a.none, &a.bn}, "center left",
            "Mean over seeds, band: min to max (runs with a non-finite loss are left out).");
    }

    // The regime table and plot: each arm's width (decades within 2 points of its best) against depth.
    std::string regime_summary(const std::vector<RegimeSeries>& series, const std::vector<ActivationSweep>& sweeps) const {
        Table t{{"activation", "where BN makes the init scale matter less"}, {}};
        for (const RegimeSeries& s : series) t.rows.push_back({s.family, describe_series(s)});
        PlotSpec spec{"width of the good range of weight scales against depth", "depth (weight layers)",
                      "decades within 2 points of the best", {}, false, "top right"};
        spec.log_x = true;
        spec.bands = false;
        for (const std::string activation : {"relu", "sigmoid"})
            for (const std::string arm : {"none", "bn"}) {
                Curve c{activation + " " + arm, {}, {}, {}, {}};
                for (const ActivationSweep& a : sweeps) {
                    if (a.activation != activation) continue;
                    const double decades = arm == "bn" ? a.findings.bn_decades : a.findings.none_decades;
                    if (std::isnan(decades)) continue;
                    c.x.push_back(a.depth);
                    for (auto* v : {&c.mean, &c.low, &c.high}) v->push_back(decades);
                }
                spec.curves.push_back(std::move(c));
            }
        return "### Where it holds\n\n" + t.markdown() +
               figure(ctx_.dir(), "good_range_vs_depth", spec,
                      "The contiguous range of scales whose mean validation accuracy is within 2 points of the arm's "
                      "best, in decades.");
    }

    std::vector<double> scales_;
    size_t low_end_ = 0, high_end_ = 0;  // indices of 1e-4 and 1, the ends of CS231n's sweep
};

}  // namespace

Claim init_scale_claim() {
    return {
        "init-scale",
        "Less sensitivity to the initialization scale",
        "With BatchNorm you can be much less careful about initialization: training works over a wide range of "
        "initial weight scales.",
        "Ioffe & Szegedy 2015, abstract (\"be less careful about initialization\") and §3.3 (BN(Wu) = BN((aW)u): the "
        "output does not depend on the weights' scale). Wu & Johnson 2021 restate it. The standard small test is the "
        "CS231n assignment 2 sweep: an 8-layer net (7 hidden layers of 50) on 1,000 CIFAR-10 images, Adam 1e-3, "
        "batch 50, 10 epochs, weight scales np.logspace(-4, 0, 20); qualitative (a plot, no number).",
        "The CS231n sweep along depth (MLPs of 2, 4 and 8 layers; hidden layers of 50) on the full Fashion-MNIST "
        "(55,000 training / 5,000 validation images), 2 epochs, with ReLU and with sigmoid, weights ~ N(0, scale²) for 25 scales over logspace(-5, 1) (CS231n's 1e-4 .. 1 and a decade "
        "beyond each end), zero biases, Adam 1e-3, batch 50, 5 paired seeds, with and without BN. Metric: validation "
        "accuracy at each scale.",
        "Per activation: confirmed if BN's mean validation accuracy stays within 2 points of its best over a "
        "contiguous range of >= 3 decades of scale AND no BN is at chance (mean validation accuracy <= 15%) at both "
        "ends (scales 1e-4 and 1); refuted if BN's range within 2 points of its best is not wider (in decades) than "
        "no-BN's range within 2 points of no-BN's best; \"depends\" otherwise (BN's range is wider, but shorter than 3 "
        "decades, or no BN is not at chance at an end). Each (activation, depth) is a regime point. Overall: confirmed "
        "if every point is confirmed, refuted if every point is refuted, \"depends\" otherwise, with the depths where "
        "it holds named.",
        run_experiment<InitScaleExperiment>,
    };
}

}  // namespace bnlab::claims
