// Claim 5: BatchNorm regularizes, so dropout can be reduced or removed.
//
// small-cnn on a CIFAR-10 training subset without augmentation; arms {none, BN, GN} x
// {dropout 0, 0.5} at batch 64, plus BN at batch 512 with the learning rate scaled x8: SGD's
// gradient noise (~ lr/B) stays the same while BN's batch-statistics noise drops, which
// separates the noise from the normalization. Each norm's learning rate is its best on a
// held-out validation split (seed 0, short runs); dropout arms use their norm's.
//
// A wider train-test gap can just mean a better fit, so the gaps are compared at matched
// training accuracy: before training and after every epoch the run's accuracy in eval mode on
// a fixed slice of its training images and of the test images gives a fit curve
// (train accuracy, test accuracy); per seed, the matched level is the highest training
// accuracy all three dropout-0 arms reach, and each arm's gap is read off its curve there.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/atomic_file.h"
#include "core/error.h"
#include "experiments/claims/claims.h"
#include "experiments/claims/data.h"
#include "experiments/claims/probes.h"
#include "experiments/claims/report.h"
#include "experiments/claims/run_config.h"
#include "experiments/claims/sweep.h"

namespace bnlab::claims {

double gap_at_training_accuracy(std::span<const FitPoint> curve, double level) {
    for (size_t i = 0; i < curve.size(); ++i) {
        const FitPoint& now = curve[i];
        if (!(now.train_accuracy >= level)) continue;
        if (now.train_accuracy == level) return level - now.test_accuracy;
        if (i == 0) return NAN;  // the curve starts above `level`: nothing to interpolate from
        // Training accuracy crosses `level` between evaluations i-1 and i: linear in between.
        const FitPoint& before = curve[i - 1];
        const double t = (level - before.train_accuracy) / (now.train_accuracy - before.train_accuracy);
        return level - (before.test_accuracy + t * (now.test_accuracy - before.test_accuracy));
    }
    return NAN;
}

double matched_training_accuracy(std::span<const std::vector<FitPoint>> runs) {
    double level = runs.empty() ? NAN : INFINITY;
    for (const auto& curve : runs) {
        double peak = -INFINITY;
        for (const FitPoint& p : curve) peak = std::max(peak, p.train_accuracy);
        level = std::min(level, peak);
    }
    return level;
}

std::pair<std::string, std::string> regularization_verdict(const RegularizationFindings& f) {
    const bool below_none = f.gap_none_minus_bn.clearly_positive();
    const bool below_gn = f.gap_gn_minus_bn.clearly_positive();
    const bool dropout_adds_less = f.dropout_gain_none_minus_bn.clearly_positive();
    const std::string numbers = fmt::format(
        "at matched training accuracy BN's train-test gap is smaller than no-norm's by {} points and than GroupNorm's "
        "by {}; dropout's test-accuracy gain without a norm minus with BN: {} points (means over paired seeds [95% CI])",
        effect_cell(f.gap_none_minus_bn), effect_cell(f.gap_gn_minus_bn), effect_cell(f.dropout_gain_none_minus_bn));
    if (below_none && below_gn && dropout_adds_less) return {"confirmed", numbers};
    if (!below_none) return {"refuted", "BN's gap is not clearly smaller than without a norm; " + numbers};
    std::vector<std::string> failed;
    if (!below_gn) failed.push_back("BN's gap is not clearly smaller than GroupNorm's");
    if (!dropout_adds_less) failed.push_back("dropout does not clearly add less with BN");
    return {"depends", fmt::format("only partly ({}); {}", fmt::join(failed, "; "), numbers)};
}

namespace {

struct Arm {
    std::string name, norm;
    float dropout = 0;
    int64_t batch = 64;
};

// The protocol's arms; the first three (dropout 0, batch 64) define the matched level.
const std::vector<Arm> kArms{{"none", "none", 0.0f, 64},
                             {"bn", "bn", 0.0f, 64},
                             {"gn", "gn", 0.0f, 64},
                             {"none + dropout 0.5", "none", 0.5f, 64},
                             {"bn + dropout 0.5", "bn", 0.5f, 64},
                             {"gn + dropout 0.5", "gn", 0.5f, 64},
                             {"bn, batch 512", "bn", 0.0f, 512}};
constexpr size_t kNone = 0, kBn = 1, kGn = 2;  // positions in kArms
constexpr size_t kMatchedArms = 3;
const std::vector<std::string> kSweptNorms{"none", "bn", "gn"};

struct Profile {
    DataSizes data;
    int64_t curve_images, epochs, sweep_epochs;
    std::vector<double> lr_grid;
    int seeds;
};
// Default: ~2.3M training images (7 arms x 3 seeds x 10 epochs x 10,000, and the sweep) at
// 1,000-2,100 images/s (measured, one thread: none fastest, gn slowest), ~34 minutes.
const Profile kQuick{{1000, 500, 500}, 300, 2, 1, {0.01, 0.03}, 1};
const Profile kFull{{10000, 2000, 0}, 1000, 10, 2, {0.003, 0.01, 0.03}, 3};

// Records a run's fit curve: before training and at every evaluation, accuracy in eval mode on
// the first `slice` training images, beside the trainer's accuracy on the first `slice` test
// images (its row).
class FitRecorder : public ModelObserver {
public:
    FitRecorder(const Dataset& train, const Dataset& test, int64_t slice) : train_(train), test_(test), slice_(slice) {}

    void on_start(Trainer& trainer) override {
        trainer_ = &trainer;
        add(0, eval_accuracy(trainer, test_, slice_));
    }
    void on_row(const MetricsRow& row) override {
        if (std::isfinite(row.test_accuracy)) add(row.epoch, row.test_accuracy);
    }

    std::string csv() const {
        std::string out = "epoch,train_accuracy_eval_mode,test_accuracy\n";
        for (size_t i = 0; i < points.size(); ++i)
            out += fmt::format("{:.4f},{:.6f},{:.6f}\n", epochs[i], points[i].train_accuracy, points[i].test_accuracy);
        return out;
    }

    std::vector<FitPoint> points;
    std::vector<double> epochs;

private:
    void add(double epoch, double test_accuracy) {
        epochs.push_back(epoch);
        points.push_back({eval_accuracy(*trainer_, train_, slice_), test_accuracy});
    }

    const Dataset& train_;
    const Dataset& test_;
    int64_t slice_;
    Trainer* trainer_ = nullptr;
};

// One arm, one seed.
struct Outcome {
    std::vector<FitPoint> curve;
    std::vector<double> epochs;
    double train_accuracy = NAN, test_accuracy = NAN;  // at the end, on the whole training subset / test set
    bool diverged = false;
};

class RegularizationExperiment : public Experiment {
public:
    explicit RegularizationExperiment(ClaimContext& ctx)
        : Experiment(ctx, "cifar10", ctx.quick() ? kQuick.data : kFull.data, kQuick.seeds, kFull.seeds),
          p_(quick() ? kQuick : kFull) {}

    ClaimResult run() {
        ClaimResult result;
        result.data = data_.description() +
                      fmt::format("; fit curves on the first {} training and {} test images", p_.curve_images,
                                  p_.curve_images);

        ctx_.log("regularization: learning-rate sweep on validation (seed 0)");
        Table sweep_table{
            {"norm", "learning rate", fmt::format("validation accuracy after {} epoch(s)", p_.sweep_epochs)}, {}};
        for (const std::string& norm : kSweptNorms) {
            const auto config_at = [&](double lr) { return config({norm, norm, 0.0f, 64}, lr, 0, p_.sweep_epochs); };
            lr_[norm] = best_lr_on_validation(ctx_, norm, p_.lr_grid, config_at, data_, sweep_table);
        }

        for (size_t a = 0; a < kArms.size(); ++a)
            for (int s = 0; s < seeds_; ++s) outcomes_[a].push_back(train_arm(kArms[a], static_cast<uint64_t>(s)));
        matched_gaps();

        const RegularizationFindings findings{paired_effect(matched_gap_minus_bn(kNone)),
                                              paired_effect(matched_gap_minus_bn(kGn)),
                                              paired_effect(differences(dropout_gain("none"), dropout_gain("bn")))};
        std::tie(result.verdict, result.reason) = regularization_verdict(findings);
        result.key_result = fmt::format(
            "matched-accuracy gap: none {:.1f}, bn {:.1f}, gn {:.1f} points; dropout gain: none {:+.1f}, bn {:+.1f} points",
            mean_of(gap_matched_[kNone]), mean_of(gap_matched_[kBn]), mean_of(gap_matched_[kGn]),
            mean_of(dropout_gain("none")), mean_of(dropout_gain("bn")));

        result.body = fmt::format("small-cnn (conv16-conv32-FC), SGD momentum 0.9, no weight decay, constant learning "
                                  "rate, {} epochs, batch 64 (the last arm 512), {} paired seed(s). Accuracy and gaps "
                                  "in percent / points.\n\n",
                                  p_.epochs, seeds_);
        result.body += "### Learning rates (chosen on validation, seed 0)\n\n" + sweep_table.markdown();
        result.body += arms_table() + comparisons_table(findings) + plots();
        result.deviations = deviations();
        return result;
    }

private:
    TrainConfig config(const Arm& arm, double lr, uint64_t seed, int64_t epochs) const {
        return run_config(data_.train, {.arch = "small-cnn", .norm = arm.norm, .dropout = arm.dropout},
                          {.lr = lr, .batch = arm.batch, .epochs = epochs, .seed = seed});
    }

    // Each norm's learning rate; the batch-512 arm scales it linearly (x512/64).
    double arm_lr(const Arm& arm) const { return lr_.at(arm.norm) * static_cast<double>(arm.batch) / 64.0; }

    Outcome train_arm(const Arm& arm, uint64_t seed) {
        const std::string name = fmt::format("{}-dropout{}-batch{}-seed{}", arm.norm, arm.dropout, arm.batch, seed);
        TrainConfig c = config(arm, arm_lr(arm), seed, p_.epochs);
        c.test_limit = p_.curve_images;  // the trainer's rows: the test slice of the fit curve
        FitRecorder fit(data_.train, data_.test, p_.curve_images);
        const TrainedRun run = ctx_.train(name, c, data_.train, data_.test, &fit);
        write_text_atomically(run.dir + "/fit.csv", fit.csv());
        Outcome o;
        o.curve = fit.points;
        o.epochs = fit.epochs;
        o.diverged = run.result.diverged;
        o.train_accuracy = eval_accuracy(*run.trainer, data_.train);
        o.test_accuracy = eval_accuracy(*run.trainer, data_.test);
        return o;
    }

    // Per seed: the matched level over the dropout-0 arms, and every arm's gap there (points).
    void matched_gaps() {
        for (int s = 0; s < seeds_; ++s) {
            std::vector<std::vector<FitPoint>> matched_runs;
            for (size_t a = 0; a < kMatchedArms; ++a) matched_runs.push_back(outcomes_[a][s].curve);
            const double level = matched_training_accuracy(matched_runs);
            matched_level_.push_back(level);
            for (size_t a = 0; a < kArms.size(); ++a)
                gap_matched_[a].push_back(100 * gap_at_training_accuracy(outcomes_[a][s].curve, level));
        }
    }

    std::vector<double> per_seed(size_t arm, double Outcome::*field) const {
        std::vector<double> v;
        for (const Outcome& o : outcomes_.at(arm)) v.push_back(100 * (o.*field));
        return v;
    }
    std::vector<double> end_gap(size_t arm) const {
        return differences(per_seed(arm, &Outcome::train_accuracy), per_seed(arm, &Outcome::test_accuracy));
    }
    size_t arm_index(const std::string& norm, float dropout, int64_t batch = 64) const {
        for (size_t a = 0; a < kArms.size(); ++a)
            if (kArms[a].norm == norm && kArms[a].dropout == dropout && kArms[a].batch == batch) return a;
        throw Error("regularization: no arm " + norm);
    }
    // Per seed: an arm's gap at matched training accuracy minus BN's (points).
    std::vector<double> matched_gap_minus_bn(size_t arm) const {
        return differences(gap_matched_.at(arm), gap_matched_.at(kBn));
    }
    // Per seed: test accuracy with dropout 0.5 minus without (points).
    std::vector<double> dropout_gain(const std::string& norm) const {
        return differences(per_seed(arm_index(norm, 0.5f), &Outcome::test_accuracy),
                           per_seed(arm_index(norm, 0.0f), &Outcome::test_accuracy));
    }

    // Mean ± std [CI] of the finite values, with "(k/n reached)" when some are NaN.
    static std::string finite_cell(const std::vector<double>& values) {
        std::vector<double> finite;
        for (double v : values)
            if (std::isfinite(v)) finite.push_back(v);
        std::string cell = mean_std_ci(finite);
        if (finite.size() < values.size()) cell += fmt::format(" ({}/{} seeds reached it)", finite.size(), values.size());
        return cell;
    }

    std::string arms_table() const {
        Table t{{"arm", "learning rate", "test accuracy", "training accuracy (eval mode)", "gap at the end",
                 "gap at matched training accuracy"},
                {}};
        for (size_t a = 0; a < kArms.size(); ++a) {
            int diverged = 0;
            for (const Outcome& o : outcomes_.at(a)) diverged += o.diverged;
            t.rows.push_back({kArms[a].name + (diverged ? fmt::format(" ({} diverged)", diverged) : ""),
                              number(arm_lr(kArms[a]), 4), mean_std_ci(per_seed(a, &Outcome::test_accuracy)),
                              mean_std_ci(per_seed(a, &Outcome::train_accuracy)), mean_std_ci(end_gap(a)),
                              finite_cell(gap_matched_.at(a))});
        }
        std::vector<std::string> levels;
        for (double l : matched_level_) levels.push_back(number(100 * l, 1) + "%");
        return fmt::format("### Arms (mean ± std [95% bootstrap CI] over seeds)\n\nTest accuracy on the {} test images "
                           "and training accuracy on all {} training images, both in eval mode at the end; gap = "
                           "training minus test accuracy. The matched training accuracy (per seed: {}) is the highest "
                           "that none, bn and gn all reach on the {}-image training slice; each arm's gap is read off "
                           "its fit curve there.\n\n",
                           data_.test.size(), data_.train.size(), fmt::join(levels, ", "), p_.curve_images) +
               t.markdown();
    }

    std::string comparisons_table(const RegularizationFindings& f) const {
        Table t{{"comparison (points, paired over seeds)", "per seed", "mean [95% CI]", "part of the rule"}, {}};
        const auto row = [&](const std::string& what, const std::vector<double>& values, const std::string& rule) {
            std::vector<std::string> cells;
            for (double v : values) cells.push_back(number(v, 2));
            t.rows.push_back({what, fmt::format("{}", fmt::join(cells, ", ")), effect_cell(paired_effect(values)), rule});
        };
        const auto part = [](const char* name, const PairedEffect& e) {
            return fmt::format("{}: {}", name, e.clearly_positive() ? "holds" : "fails");
        };
        row("gap(none) - gap(bn), matched", matched_gap_minus_bn(kNone), part("A", f.gap_none_minus_bn));
        row("gap(gn) - gap(bn), matched", matched_gap_minus_bn(kGn), part("B", f.gap_gn_minus_bn));
        row("dropout gain(none) - dropout gain(bn), test accuracy", differences(dropout_gain("none"), dropout_gain("bn")),
            part("C", f.dropout_gain_none_minus_bn));
        for (const std::string norm : {"none", "bn", "gn"})
            row(fmt::format("dropout gain({}): test accuracy with dropout 0.5 minus without", norm), dropout_gain(norm),
                "reported");
        row("gap(bn, batch 512) - gap(bn, batch 64), matched: BN's batch noise",
            matched_gap_minus_bn(arm_index("bn", 0.0f, 512)), "reported");
        row("gap(none) - gap(bn), end of training", differences(end_gap(kNone), end_gap(kBn)), "reported");
        return "### The rule's comparisons\n\n" + t.markdown() +
               "A comparison holds when its 95% CI lies above 0 (with 3 seeds: every seed agrees). If BN's batch "
               "noise is what regularizes, the batch-512 arm (same gradient noise, less batch-statistics noise) has a "
               "wider gap than BN at batch 64; if the normalization itself does, the two match.\n\n";
    }

    std::string plots() const {
        PlotSpec gap{"train-test gap against training accuracy (fit curves, mean over seeds per epoch)",
                     "training accuracy, eval mode (%)", "training minus test accuracy (points)", {}};
        gap.key = "top left";
        PlotSpec test{"test accuracy over training", "epoch", "test accuracy on the curve slice (%)", {}};
        gap.bands = test.bands = false;  // seven arms: their bands would cover each other
        for (size_t a = 0; a < kArms.size(); ++a) {
            const auto& runs = outcomes_.at(a);
            std::vector<double> epochs = runs.front().epochs, mean_train;
            std::vector<std::vector<double>> gaps, tests;
            for (size_t i = 0; i < epochs.size(); ++i) {
                std::vector<double> train_i, gap_i, test_i;
                for (const Outcome& o : runs) {
                    if (i >= o.curve.size()) continue;
                    train_i.push_back(o.curve[i].train_accuracy);
                    gap_i.push_back(o.curve[i].train_accuracy - o.curve[i].test_accuracy);
                    test_i.push_back(o.curve[i].test_accuracy);
                }
                mean_train.push_back(100 * mean_of(train_i));
                gaps.push_back(gap_i);
                tests.push_back(test_i);
            }
            gap.curves.push_back(points_curve(kArms[a].name, mean_train, gaps, 100));
            test.curves.push_back(points_curve(kArms[a].name, epochs, tests, 100));
        }
        return "### Plots\n\n" +
               figure(ctx_.dir(), "gap_vs_training_accuracy", gap,
                             "Each point is one evaluation (x: training accuracy averaged over seeds); a narrower gap "
                             "at the same x is the regularization the claim is about. Lines: mean over seeds.") +
               figure(ctx_.dir(), "test_accuracy", test, "Lines: mean over seeds (the tables give the spread).");
    }

    std::vector<std::string> deviations() const {
        const auto grid = [](const Profile& p) { return fmt::format("{{{}}}", fmt::join(p.lr_grid, ", ")); };
        std::vector<std::string> d{
            fmt::format("{} epochs and {} seeds instead of 30 and 5: the protocol's 7 arms x 30 epochs x 5 seeds on "
                        "10,000 images (10.5M training images) would take 2-3 hours on 2 cores at the 1,000-2,100 "
                        "images/s small-cnn trains at on CIFAR-10 (measured on one thread: no norm fastest, GroupNorm "
                        "slowest); this profile trains {:.1f}M plus evaluations, about 40 minutes.",
                        kFull.epochs, kFull.seeds,
                        static_cast<double>(7 * kFull.seeds * kFull.epochs * kFull.data.train_images) / 1e6),
            fmt::format("The protocol fixes no learning rate: each norm gets its best of {} (SGD momentum 0.9) on {} "
                        "held-out validation images after {} epochs (seed 0); the dropout arms use their norm's rate, "
                        "and the batch-512 arm scales BN's linearly (x8) so that only BN's batch-statistics noise "
                        "changes.",
                        grid(kFull), kFull.data.validation_images, kFull.sweep_epochs),
            fmt::format("The fit curves (and so the matched training accuracy) use fixed {}-image slices of the "
                        "training subset and of the test set, evaluated once per epoch, to keep evaluation cheap; "
                        "the end-of-training numbers use the whole training subset and test set.",
                        kFull.curve_images)};
        if (ctx_.quick())
            d.push_back(fmt::format("Quick profile: {} training images, {} validation, {} test images, {} epochs, "
                                    "learning rates {} after {} epoch, {} seed: a smoke test, not evidence.",
                                    kQuick.data.train_images, kQuick.data.validation_images, kQuick.data.test_images, kQuick.epochs,
                                    grid(kQuick), kQuick.sweep_epochs, kQuick.seeds));
        return d;
    }

    const Profile p_;
    std::map<std::string, double> lr_;                   // norm -> learning rate at batch 64
    std::map<size_t, std::vector<Outcome>> outcomes_;    // arm -> per seed
    std::map<size_t, std::vector<double>> gap_matched_;  // arm -> per seed (points; NaN: level not reached)
    std::vector<double> matched_level_;                  // per seed
};

}  // namespace

Claim regularization_claim() {
    return {
        "regularization",
        "BatchNorm as a regularizer",
        "BatchNorm regularizes the network, so dropout can be removed or reduced in strength.",
        "Ioffe & Szegedy 2015, section 3.4 (BN-x5 dropped dropout). Wu & He 2018: at batch 32 GroupNorm has lower "
        "training error but higher validation error than BN (24.1 vs 23.6), attributed to BN's batch noise. Luo et "
        "al. 2019: BN = population normalization + gamma decay + batch noise. ducha-aiki CaffeNet-128 with BN: "
        "dropout 0.5 gives 0.499, 0.2 gives 0.527, 0 gives 0.513 (BN does not fully replace dropout).",
        "CIFAR-10, small-cnn, the first 10,000 training images, no augmentation. Arms: {none, BN, GN (4 groups)} x "
        "{dropout 0, 0.5} at batch 64, and BN at batch 512 (learning rate x8). Dropout sits before the last linear "
        "layer, after the last BN. 10 epochs, 3 paired seeds (the reference says 30 and 5: see deviations). Metrics: "
        "test accuracy, and training accuracy (eval mode) minus test accuracy, at the end and at matched training "
        "accuracy.",
        "Per seed, the matched training accuracy is the highest training accuracy (eval mode, on a fixed slice of "
        "the training images, evaluated every epoch) that the none, bn and gn arms (dropout 0) all reach; an arm's "
        "gap there is that level minus its test accuracy where its training accuracy first reaches it (linear "
        "between evaluations). Three paired comparisons, in points, each holding when the 95% bootstrap CI of the "
        "mean over seeds lies above 0: (A) gap(none) - gap(bn) and (B) gap(gn) - gap(bn), at matched training "
        "accuracy; (C) dropout's gain in test accuracy (dropout 0.5 minus 0) without a norm minus with BN. "
        "Confirmed if A, B and C hold; refuted if A does not (BN's gap is not smaller than without a norm); "
        "\"depends\" otherwise. The batch-512 arm is reported, not part of the rule.",
        run_experiment<RegularizationExperiment>,
    };
}

}  // namespace bnlab::claims
