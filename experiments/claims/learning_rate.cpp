// Claim 2: BatchNorm allows higher learning rates, mapped along depth.
//
// Per family (ReLU MLPs and plain CNNs of increasing depth on Fashion-MNIST) and depth: a
// learning-rate sweep with and without BN, plain SGD (batch 60), paired seeds per arm and rate.
// A run diverges on a non-finite loss, or when its training loss climbs above its initial loss
// (sweep.h's DivergenceRule); it fails if it diverges or ends at chance. Per arm: the largest
// rate at which no seed failed, and the band of rates around the best whose mean validation
// accuracy is within 1 point of it.
//
// Which layers set BN's ceiling: a third arm, "bn-split", is the BN network with the parameters
// BN does not make scale-invariant (the last linear layer, biases, BN's own weight and bias:
// models/param_groups.h) held at a fixed rate while the swept rate drives the normalized
// weights. If bn-split stays stable above bn's ceiling, that ceiling was set by the layers BN
// does not normalize.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "experiments/claims/claims.h"
#include "experiments/claims/regime.h"
#include "experiments/claims/report.h"
#include "experiments/claims/run_config.h"
#include "experiments/claims/sweep.h"

namespace bnlab::claims {

std::string learning_rate_verdict(const LearningRateArm& none, const LearningRateArm& bn) {
    const bool higher = bn.largest_stable >= none.largest_stable + 1;
    const bool wider = bn.band_points > none.band_points;
    if (higher && wider) return "confirmed";
    if (!higher && !wider) return "refuted";
    return "depends";
}

namespace {

constexpr double kBandTolerance = 0.01;  // 1 point of validation accuracy
// A run that ends at or below 15% validation accuracy (chance: 10%) learned nothing. With BN
// at large rates a network can collapse to a constant output: its loss sits at ln 10 = 2.303,
// below its initial loss, so the protocol's loss rule does not catch it.
constexpr double kChance = 0.15;
// The rate bn-split holds its unnormalized parameters at: one at which every arm trains.
constexpr double kUnnormalizedLr = 0.1;

// A run failed: it diverged, or it ended at chance.
bool failed(const SweepRun& r) { return r.diverged || r.validation_accuracy <= kChance; }

struct Arm {
    std::string name, norm;
    double unnormalized_lr = 0;  // > 0: TrainConfig::unnormalized_lr
};
const Arm kArms[] = {{"none", "none"}, {"bn", "bn"}, {"bn-split", "bn", kUnnormalizedLr}};

// One arm's sweep over the learning-rate grid, with its summary.
struct ArmSweep {
    GridSweep sweep;
    LearningRateArm summary;        // largest_stable: no seed failed
    int largest_not_diverged = -1;  // the protocol's boundary: no seed diverged (chance runs count as stable)
    Band band;  // within 1 point of the best mean validation accuracy, over rates where no seed diverged
};

struct Family {
    std::string name, description;
    ModelConfig model;  // depth set per point
    std::vector<int> depths;
    DataSizes sizes;
    int64_t epochs = 1;
    int64_t eval_every = 0;  // 0: at the end only
    DivergenceRule divergence;
    std::vector<double> grid;
};

std::vector<Family> families(bool quick) {
    const ModelConfig mlp{.arch = "mlp", .activation = "relu", .width = 100};
    const ModelConfig plain{.arch = "plain-cnn", .width = 8};
    if (quick) {
        const DataSizes tiny{.train_images = 3000, .validation_images = 500, .test_images = 500};
        return {{"mlp", "ReLU MLP, width 100", mlp, {2, 8}, tiny, 1, 0, {30, 10}, {0.1, 1.0, 10.0}}};
    }
    return {{"mlp", "ReLU MLP, width 100", mlp, {2, 4, 8, 16}, DataSizes{.validation_images = 5000}, 1, 400, {200, 20},
             half_decade_grid(0.01, 30)},
            {"plain-cnn", "plain CNN (3x3 convs, 8/16/32 channels), no shortcuts", plain, {4, 8, 16},
             DataSizes{.train_images = 10000, .validation_images = 2000, .test_images = 2000}, 1, 0, {100, 20},
             {0.01, 0.1, 1.0, 10.0}}};
}

// One depth: the three arms' sweeps and the verdicts read off them.
struct DepthResult {
    int depth = 0;
    ArmSweep none, bn, split;
    std::string verdict;
    bool ceiling_from_unnormalized = false;  // bn-split stable above bn's largest stable rate
};

class LearningRateExperiment {
public:
    explicit LearningRateExperiment(ClaimContext& ctx) : ctx_(ctx), seeds_(ctx.seeds(1, 5)) {}

    ClaimResult run() {
        ClaimResult result;
        std::vector<RegimeSeries> series;
        std::vector<std::string> key, reasons, data;
        for (const Family& f : families(ctx_.quick())) {
            const ClaimData d = load_claim_data(ctx_, "fashion-mnist", f.sizes);
            data.push_back(fmt::format("{}: {}", f.name, d.held_out_description()));
            std::vector<DepthResult> points;
            for (int depth : f.depths) points.push_back(run_depth(f, d, depth));
            RegimeSeries s{f.name, "depth", {}};
            for (const DepthResult& p : points)
                s.points.push_back({double(p.depth), p.verdict,
                                    fmt::format("ceiling {} vs {}", stable_text(f, p.bn), stable_text(f, p.none))});
            result.body += family_report(f, points, s);
            std::vector<std::string> parts;
            for (const DepthResult& p : points)
                parts.push_back(fmt::format("d{} {} vs {}", p.depth, stable_text(f, p.bn), stable_text(f, p.none)));
            key.push_back(fmt::format("{} {}", f.name, fmt::join(parts, ", ")));
            reasons.push_back(fmt::format("{}: {}", f.name, describe_series(s)));
            series.push_back(std::move(s));
        }
        result.verdict = overall_verdict(series);
        result.regime_axis = "depth (weight layers), per family: ReLU MLPs and plain CNNs";
        result.where_it_holds = where_it_holds(series);
        result.reason = fmt::format("{}", fmt::join(reasons, "; "));
        result.key_result = fmt::format("largest stable LR, BN vs none: {}", fmt::join(key, "; "));
        result.data = fmt::format("{}", fmt::join(data, ". "));
        result.body = regime_summary(series) + result.body;
        result.deviations = {
            "The grid steps by half decades (x3 then x3.33) for the MLPs and by decades for the CNNs (to fit the "
            "budget); a boundary is known to within one grid step.",
            "Optimizer: plain SGD without momentum, batch 60 (the protocol does not name one; this is claim 1's), "
            "no weight decay, constant learning rate, 1 epoch (the CNNs: 1 epoch of a 10,000-image subset).",
            "Divergence by loss: the mean training loss over the last 20 steps is compared with the loss of step 1, "
            "at every step from step 200 on (the CNNs: step 100; one noisy batch does not count).",
            "\"Within 1%\" is read as within 1 percentage point of the best mean validation accuracy; a rate at which "
            "any seed diverged is not in the band.",
            "A run that did not diverge by the protocol's rule but ended at <= 15% validation accuracy (chance is 10%) "
            "counts as failed, not stable (a collapse to a constant output has a loss of ln 10, below the initial "
            "loss). The protocol's boundary (divergence only) is reported beside it.",
            fmt::format("bn-split holds the unnormalized parameters at lr {} (not in the protocol: it attributes the "
                        "ceiling to a group of layers).",
                        kUnnormalizedLr)};
        if (ctx_.quick())
            result.deviations.push_back("Quick profile: 3,000 training images, 500 validation and 500 test images, MLP "
                                        "depths 2 and 8, 3 learning rates, 1 seed, 1 epoch (50 steps), divergence "
                                        "checked from step 30 over a 10-step mean: a smoke test, not evidence.");
        return result;
    }

private:
    TrainConfig config(const Family& f, const ClaimData& d, int depth, const Arm& arm, double lr, uint64_t seed) const {
        ModelConfig model = f.model;
        model.depth = depth;
        model.norm = arm.norm;
        TrainConfig c = run_config(d.train, model,
                                   {.lr = lr, .momentum = 0.0, .batch = 60, .epochs = f.epochs,
                                    .eval_every = f.eval_every, .seed = seed});
        c.unnormalized_lr = arm.unnormalized_lr;
        return c;
    }

    ArmSweep sweep(const Family& f, const ClaimData& d, int depth, const Arm& arm) {
        ctx_.log(fmt::format("learning-rate: {} depth {}: {} sweep over {} rates x {} seeds", f.name, depth, arm.name,
                             f.grid.size(), seeds_));
        ArmSweep out{{arm.name, {}}, {}, {}};
        std::vector<SweepJob> jobs;  // rate-major: seeds_ jobs per rate
        for (double lr : f.grid)
            for (int s = 0; s < seeds_; ++s)
                jobs.push_back({fmt::format("{}{}-{}-lr{}-seed{}", f.name, depth, arm.name, grid_label(lr), s),
                                config(f, d, depth, arm, lr, static_cast<uint64_t>(s))});
        const std::vector<SweepRun> runs = train_and_test_all(ctx_, jobs, d, f.divergence);
        for (size_t i = 0; i < f.grid.size(); ++i) {
            const auto first = runs.begin() + static_cast<std::ptrdiff_t>(i * static_cast<size_t>(seeds_));
            std::vector<SweepRun> seeds(first, first + seeds_);
            if (diverged_count(seeds) == 0) out.largest_not_diverged = static_cast<int>(i);
            if (std::none_of(seeds.begin(), seeds.end(), failed)) out.summary.largest_stable = static_cast<int>(i);
            out.sweep.runs.push_back(std::move(seeds));
        }
        // Mean validation accuracy per rate; NaN (outside any band) where a seed diverged.
        out.band = band_around_best(out.sweep.mean_validation(), kBandTolerance);
        out.summary.band_points = static_cast<int>(out.band.points());
        return out;
    }

    DepthResult run_depth(const Family& f, const ClaimData& d, int depth) {
        DepthResult p;
        p.depth = depth;
        p.none = sweep(f, d, depth, kArms[0]);
        p.bn = sweep(f, d, depth, kArms[1]);
        p.split = sweep(f, d, depth, kArms[2]);
        p.verdict = learning_rate_verdict(p.none.summary, p.bn.summary);
        p.ceiling_from_unnormalized = p.split.summary.largest_stable > p.bn.summary.largest_stable;
        return p;
    }

    // The learning rate at grid index i (-1: "none").
    static std::string rate_text(const Family& f, int i) {
        return i < 0 ? "none" : grid_label(f.grid[static_cast<size_t>(i)]);
    }
    static std::string stable_text(const Family& f, const ArmSweep& arm) { return rate_text(f, arm.summary.largest_stable); }

    static std::string band_text(const Family& f, const ArmSweep& arm) {
        if (!arm.band.found) return "no stable rate";
        return fmt::format("{} .. {}, best {}", grid_label(f.grid[arm.band.first]), grid_label(f.grid[arm.band.last]),
                           grid_label(f.grid[arm.band.best]));
    }

    static std::string ceiling_text(const Family& f, const DepthResult& p) {
        if (p.bn.summary.largest_stable + 1 >= static_cast<int>(f.grid.size()))
            return "none within the grid (BN stable at every rate)";
        const bool split_at_top = p.split.summary.largest_stable + 1 == static_cast<int>(f.grid.size());
        return p.ceiling_from_unnormalized
                   ? fmt::format("the unnormalized layers (bn-split stable up to {}{})", stable_text(f, p.split),
                                 split_at_top ? ", the grid's top" : "")
                   : "the normalized layers (bn-split fails where bn does)";
    }

    std::string family_report(const Family& f, const std::vector<DepthResult>& points, const RegimeSeries& s) {
        std::string body = fmt::format("### {}: {}, plain SGD, batch 60, {} epoch(s), {} paired seed(s)\n\n**{}**.\n\n",
                                       f.name, f.description, f.epochs, seeds_, describe_series(s));
        Table t{{"depth", "largest stable LR: none", "bn", "bn-split", "1-point band: none", "bn",
                 "best LR test accuracy: none", "bn", "BN's ceiling is set by", "verdict"},
                {}};
        for (const DepthResult& p : points) {
            const auto test = [&](const ArmSweep& a) {
                return a.band.found ? mean_std_ci(a.sweep.test_accuracies(a.band.best), 100, 2) : "n/a";
            };
            t.rows.push_back({std::to_string(p.depth), stable_text(f, p.none), stable_text(f, p.bn),
                              stable_text(f, p.split), fmt::format("{} ({})", p.none.summary.band_points, band_text(f, p.none)),
                              fmt::format("{} ({})", p.bn.summary.band_points, band_text(f, p.bn)), test(p.none), test(p.bn),
                              ceiling_text(f, p), p.verdict});
        }
        body += "\"Stable\": no seed failed (diverged, or ended at <= 15% validation accuracy); the band: the rates "
                "within 1 point of the arm's best mean validation accuracy; test accuracy at the best rate, mean ± std "
                "[95% CI] over seeds.\n\n" +
                t.markdown();
        body += ceiling_plot(f, points);
        for (const DepthResult& p : points) body += depth_details(f, p);
        return body;
    }

    // The largest stable rate of each arm against depth.
    std::string ceiling_plot(const Family& f, const std::vector<DepthResult>& points) const {
        PlotSpec spec{fmt::format("{}: largest stable learning rate against depth", f.name), "depth (weight layers)",
                      "largest stable learning rate", {}, true, "top right"};
        spec.log_x = true;
        spec.bands = false;
        for (int a = 0; a < 3; ++a) {
            Curve c{kArms[a].name, {}, {}, {}, {}};
            for (const DepthResult& p : points) {
                const ArmSweep& arm = a == 0 ? p.none : a == 1 ? p.bn : p.split;
                if (arm.summary.largest_stable < 0) continue;
                const double lr = f.grid[static_cast<size_t>(arm.summary.largest_stable)];
                c.x.push_back(p.depth);
                c.mean.push_back(lr);
                c.low.push_back(lr);
                c.high.push_back(lr);
            }
            spec.curves.push_back(std::move(c));
        }
        return figure(ctx_.dir(), "largest_stable_lr_" + f.name, spec,
                      "The largest grid rate at which no seed failed; a depth where every rate failed has no point.");
    }

    std::string depth_details(const Family& f, const DepthResult& p) {
        Table by_rate{{"learning rate", "none", "bn", "bn-split"}, {}};
        for (size_t i = 0; i < f.grid.size(); ++i)
            by_rate.rows.push_back({grid_label(f.grid[i]), p.none.sweep.validation_cell(i, p.none.band),
                                    p.bn.sweep.validation_cell(i, p.bn.band), p.split.sweep.validation_cell(i, p.split.band)});
        Table failures{{"run", "why it failed", "validation accuracy at its last evaluation"}, {}};
        for (const ArmSweep* arm : {&p.none, &p.bn, &p.split})
            for (const auto& seeds : arm->sweep.runs)
                for (const SweepRun& r : seeds)
                    if (failed(r))
                        failures.rows.push_back({r.name, r.diverged ? r.divergence : "ended at chance",
                                                 std::isnan(r.last_evaluated) ? "none" : number(100 * r.last_evaluated, 2) + "%"});
        const std::string plot = validation_plot_markdown(
            ctx_, fmt::format("validation_by_lr_{}{}", f.name, p.depth),
            fmt::format("{} depth {}: validation accuracy after training, by learning rate", f.name, p.depth),
            "learning rate (SGD)", f.grid, {&p.none.sweep, &p.bn.sweep, &p.split.sweep}, "bottom left",
            "Mean over seeds, band: min to max; a rate where every seed diverged has no point.");
        return fmt::format("<details><summary>{} depth {}: validation accuracy (%) by rate, failed runs, plot</summary>\n\n"
                           "Mean ± std [95% CI] over seeds; **bold**: the band within 1 point of the arm's best.\n\n"
                           "{}{}{}</details>\n\n",
                           f.name, p.depth, by_rate.markdown(),
                           failures.rows.empty() ? "No run failed.\n\n" : "Failed runs:\n\n" + failures.markdown(), plot);
    }

    static std::string regime_summary(const std::vector<RegimeSeries>& series) {
        Table t{{"family", "where BN allows higher learning rates"}, {}};
        for (const RegimeSeries& s : series) t.rows.push_back({s.family, describe_series(s)});
        return "### Where it holds\n\n" + t.markdown();
    }

    ClaimContext& ctx_;
    const int seeds_;
};

}  // namespace

Claim learning_rate_claim() {
    return {
        "learning-rate",
        "Higher learning rates",
        "BatchNorm lets networks train at much higher learning rates without diverging.",
        "Ioffe & Szegedy 2015, §3.3 (BN makes back-propagation invariant to the weights' scale, so \"higher learning "
        "rates\" do not blow up the parameters) and the BN-x5/BN-x30 runs (learning rate x5 and x30 of Inception's "
        "0.0015; Inception itself at 0.0075 reached \"machine infinity\"). Bjorck et al. 2018: BN \"primarily enables "
        "training with larger learning rates\"; Luo et al. 2019: a \"large maximum and effective learning rate\".",
        "Along depth, per family on Fashion-MNIST: ReLU MLPs of width 100 with 2, 4, 8 and 16 linear layers (55,000 "
        "training / 5,000 validation images, learning rates 0.01, 0.03, ..., 30) and plain CNNs of 8/16/32 channels "
        "with 4, 8 and 16 weight layers (10,000 / 2,000 images, 2,000 test images, rates 0.01, 0.1, 1, 10); with and without BN, plain "
        "SGD, batch 60, 1 epoch, 5 paired seeds. A run diverges on a NaN loss, or when its loss exceeds its initial "
        "loss after 200 steps (CNNs: 100); it fails if it diverges or ends at chance (<= 15% validation accuracy). "
        "Metrics: the largest stable learning rate (no seed failed) and the width of the band of rates within 1 "
        "point of the best validation accuracy; test accuracy at each arm's best rate. A third arm, bn-split, holds "
        "the parameters BN does not make scale-invariant (last linear layer, biases, BN's weight and bias) at lr 0.1 "
        "to tell which layers set BN's ceiling.",
        "At each depth: confirmed if BN's largest stable learning rate is at least one grid step above no-BN's AND "
        "BN's band within 1 point of its best validation accuracy holds more grid points; refuted if neither holds; "
        "\"depends\" if exactly one does. Overall: confirmed if confirmed at every depth of every family, refuted if "
        "refuted at every one, \"depends\" otherwise, with the depths where it holds named. BN's ceiling is "
        "attributed to the unnormalized layers when bn-split is stable at a higher rate than bn.",
        run_experiment<LearningRateExperiment>,
    };
}

}  // namespace bnlab::claims
