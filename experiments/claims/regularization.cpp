// Claim 5: BatchNorm regularizes, so dropout can be reduced or removed.
//
// small-cnn on CIFAR-10 training subsets without augmentation; arms {none, BN, GN} x
// {dropout 0, 0.5} at batch 64, plus BN at batch 512 with the learning rate scaled x8: SGD's
// gradient noise (~ lr/B) stays the same while BN's batch-statistics noise drops, which
// separates the noise from the normalization. Each norm's learning rate is its best on a
// held-out validation split (seed 0, short runs); dropout arms use their norm's.
//
// The regime axis is the training-set size (1,000 / 3,000 / 10,000 images, the same number of
// steps at each): a regularizer matters where the data are few and the model overfits.
//
// A wider train-test gap can just mean a better fit, so the gaps are compared at matched
// training accuracy: before training and at every evaluation the run's accuracy in eval mode on
// a fixed slice of its training images and of the test images gives a fit curve
// (train accuracy, test accuracy); per seed, the matched level is the highest training
// accuracy all three dropout-0 arms reach, and each arm's gap is read off its curve there.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "experiments/claims/claims.h"
#include "experiments/claims/data.h"
#include "experiments/claims/paired_seeds.h"
#include "experiments/claims/probes.h"
#include "experiments/claims/records.h"
#include "experiments/claims/regime.h"
#include "experiments/claims/report.h"
#include "experiments/claims/run_config.h"
#include "experiments/claims/sweep.h"
#include "experiments/plot.h"

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
    bool every_size = true;  // the rule's arms run at every training-set size; the others at the largest only
};

// The protocol's arms; the first three (dropout 0, batch 64) define the matched level.
const std::vector<Arm> kArms{{"none", "none", 0.0f, 64},
                             {"bn", "bn", 0.0f, 64},
                             {"gn", "gn", 0.0f, 64},
                             {"none + dropout 0.5", "none", 0.5f, 64},
                             {"bn + dropout 0.5", "bn", 0.5f, 64},
                             {"gn + dropout 0.5", "gn", 0.5f, 64, false},
                             {"bn, batch 512", "bn", 0.0f, 512, false}};
constexpr size_t kNone = 0, kBn = 1, kGn = 2;  // positions in kArms
constexpr size_t kMatchedArms = 3;
constexpr int64_t kBatch = 64;  // every arm's but the last
const std::vector<std::string> kSweptNorms{"none", "bn", "gn"};

struct Profile {
    DataSizes data;               // the largest training subset, the validation split, the test images
    std::vector<int64_t> sizes;   // the regime axis: training images, increasing; the last is data.train_images
    int64_t curve_images;         // the fit curves' training and test slices
    int64_t steps, eval_every;    // at batch 64, the same at every size (the batch-512 arm: 1/8 of each)
    int64_t sweep_steps;
    std::vector<double> lr_grid;
    int seeds;
};
// Default: 1,560 steps at batch 64 (10 epochs of 10,000 images) for every run: 2 sizes x 5 arms
// + 7 arms, x 5 seeds, is 8.5M training images, and the sweeps 0.5M, at 1,000-2,500 images/s
// on one thread (measured: no norm fastest, GroupNorm slowest): about 1.5-2 hours on one core
// (the 3-seed run took 82 minutes next to three other processes on 2 cores).
// ClaimOptions::reuse_finished_runs continues an interrupted run.
const Profile kQuick{{1000, 500, 500}, {300, 1000}, 300, 32, 16, 16, {0.01, 0.03}, 1};
const Profile kFull{{10000, 2000, 0}, {1000, 3000, 10000}, 1000, 1560, 156, 312, {0.003, 0.01, 0.03}, 5};

// Records a run's fit curve: before training and at every evaluation, accuracy in eval mode on
// the first `slice` training images, beside the trainer's accuracy on the first `slice` test
// images (its row); x is the number of training images seen.
class FitRecorder : public ModelObserver {
public:
    FitRecorder(const Dataset& train, const Dataset& test, int64_t slice, int64_t batch)
        : train_(train), test_(test), slice_(slice), batch_(batch) {}

    void on_start(Trainer& trainer) override {
        trainer_ = &trainer;
        add(0, eval_accuracy(trainer, test_, slice_));
    }
    void on_row(const MetricsRow& row) override {
        if (std::isfinite(row.test_accuracy)) add(row.step, row.test_accuracy);
    }

    // Accuracies in the shortest text that reads back to the same double (a resumed run's
    // report then equals the first one's).
    std::string csv() const {
        std::string out = "images_seen,train_accuracy_eval_mode,test_accuracy\n";
        for (size_t i = 0; i < points.size(); ++i)
            out += fmt::format("{},{},{}\n", images_seen[i], points[i].train_accuracy, points[i].test_accuracy);
        return out;
    }

    std::vector<FitPoint> points;
    std::vector<double> images_seen;

private:
    void add(int64_t step, double test_accuracy) {
        images_seen.push_back(static_cast<double>(step * batch_));
        points.push_back({eval_accuracy(*trainer_, train_, slice_), test_accuracy});
    }

    const Dataset& train_;
    const Dataset& test_;
    int64_t slice_, batch_;
    Trainer* trainer_ = nullptr;
};

// One arm, one seed.
struct Outcome {
    std::vector<FitPoint> curve;
    std::vector<double> images_seen;
    double train_accuracy = NAN, test_accuracy = NAN;  // at the end, on the whole training subset / test set
    bool diverged = false;
};

// A run's end-of-training numbers are kept beside its fit curve (RUN/outcome.json, RUN/fit.csv)
// so that a resumed claim run (ClaimOptions::reuse_finished_runs) reads the run back.
// As JSON, with the fit curve too when it travels between ranks (ClaimContext::spread).
nlohmann::json outcome_json(const Outcome& o, bool with_curve) {
    nlohmann::json j{{"train_accuracy", number_json(o.train_accuracy)},
                     {"test_accuracy", number_json(o.test_accuracy)},
                     {"diverged", o.diverged}};
    if (!with_curve) return j;
    j["curve"] = nlohmann::json::array();
    for (size_t i = 0; i < o.curve.size(); ++i)
        j["curve"].push_back({number_json(o.images_seen[i]), number_json(o.curve[i].train_accuracy),
                              number_json(o.curve[i].test_accuracy)});
    return j;
}

Outcome outcome_from_json(const nlohmann::json& j) {
    Outcome o;
    o.train_accuracy = number_from_json(j.at("train_accuracy"));
    o.test_accuracy = number_from_json(j.at("test_accuracy"));
    o.diverged = j.at("diverged").get<bool>();
    for (const auto& p : j.value("curve", nlohmann::json::array())) {
        o.images_seen.push_back(number_from_json(p.at(0)));
        o.curve.push_back({number_from_json(p.at(1)), number_from_json(p.at(2))});
    }
    return o;
}

void write_outcome(const std::string& run_dir, const Outcome& o) {
    write_text_atomically(run_dir + "/outcome.json", outcome_json(o, false).dump(1) + "\n");
}

std::optional<Outcome> read_outcome(const std::filesystem::path& run_dir) {
    std::ifstream outcome_file(run_dir / "outcome.json"), fit_file(run_dir / "fit.csv");
    if (!outcome_file || !fit_file) return std::nullopt;
    try {
        Outcome o = outcome_from_json(nlohmann::json::parse(outcome_file));
        std::string line;
        std::getline(fit_file, line);  // the header
        while (std::getline(fit_file, line)) {
            std::replace(line.begin(), line.end(), ',', ' ');
            std::istringstream fields(line);
            double images = 0;
            FitPoint p;
            std::string train, test;  // "nan" reads back through strtod
            if (!(fields >> images >> train >> test)) return std::nullopt;
            p.train_accuracy = std::strtod(train.c_str(), nullptr);
            p.test_accuracy = std::strtod(test.c_str(), nullptr);
            o.images_seen.push_back(images);
            o.curve.push_back(p);
        }
        return o;
    } catch (const nlohmann::json::exception&) {
        return std::nullopt;  // not a record bnlab wrote whole: train the run again
    }
}

size_t arm_index(const std::string& norm, float dropout, int64_t batch = kBatch) {
    for (size_t a = 0; a < kArms.size(); ++a)
        if (kArms[a].norm == norm && kArms[a].dropout == dropout && kArms[a].batch == batch) return a;
    throw Error("regularization: no arm " + norm);
}

// One point of the regime axis: a training-set size, its learning rates, every arm's runs and
// the rule's comparisons there.
struct SizePoint {
    Dataset train;                                      // the first `train.size()` images of the training subset
    std::map<std::string, double> lr;                   // norm -> learning rate at batch 64
    std::map<size_t, std::vector<Outcome>> outcomes;    // arm -> per seed
    std::map<size_t, std::vector<double>> gap_matched;  // arm -> per seed (points; NaN: level not reached)
    std::vector<double> matched_level;                  // per seed
    RegularizationFindings findings;
    std::string verdict, reason;

    int64_t images() const { return train.size(); }
    bool ran(size_t arm) const { return outcomes.count(arm) > 0; }
    // Each norm's learning rate; the batch-512 arm scales it linearly (x512/64).
    double arm_lr(const Arm& arm) const { return lr.at(arm.norm) * static_cast<double>(arm.batch) / kBatch; }

    // Per seed: the matched level over the dropout-0 arms, and every arm's gap there (points).
    void match_gaps(int seeds) {
        for (int s = 0; s < seeds; ++s) {
            std::vector<std::vector<FitPoint>> matched_runs;
            for (size_t a = 0; a < kMatchedArms; ++a) matched_runs.push_back(outcomes.at(a)[s].curve);
            const double level = matched_training_accuracy(matched_runs);
            matched_level.push_back(level);
            for (const auto& [a, runs] : outcomes) gap_matched[a].push_back(100 * gap_at_training_accuracy(runs[s].curve, level));
        }
        findings = {paired_effect(matched_gap_minus_bn(kNone)), paired_effect(matched_gap_minus_bn(kGn)),
                    paired_effect(differences(dropout_gain("none"), dropout_gain("bn")))};
        std::tie(verdict, reason) = regularization_verdict(findings);
    }

    std::vector<double> per_seed(size_t arm, double Outcome::*field) const {
        std::vector<double> v;
        for (const Outcome& o : outcomes.at(arm)) v.push_back(100 * (o.*field));
        return v;
    }
    std::vector<double> end_gap(size_t arm) const {
        return differences(per_seed(arm, &Outcome::train_accuracy), per_seed(arm, &Outcome::test_accuracy));
    }
    // Per seed: an arm's gap at matched training accuracy minus BN's (points).
    std::vector<double> matched_gap_minus_bn(size_t arm) const { return differences(gap_matched.at(arm), gap_matched.at(kBn)); }
    // Per seed: test accuracy with dropout 0.5 minus without (points).
    std::vector<double> dropout_gain(const std::string& norm) const {
        return differences(per_seed(arm_index(norm, 0.5f), &Outcome::test_accuracy),
                           per_seed(arm_index(norm, 0.0f), &Outcome::test_accuracy));
    }
};

class RegularizationExperiment : public Experiment {
public:
    explicit RegularizationExperiment(ClaimContext& ctx)
        : Experiment(ctx, "cifar10", ctx.quick() ? kQuick.data : kFull.data, kQuick.seeds, kFull.seeds),
          p_(quick() ? kQuick : kFull) {}

    ClaimResult run() {
        ClaimResult result;
        result.data = data_.description() +
                      fmt::format("; training subsets: its first {} images; fit curves on the first {} training and "
                                  "{} test images",
                                  fmt::join(p_.sizes, " / "), p_.curve_images, p_.curve_images);

        Table sweep_table{{"norm", "training images", "learning rate",
                           fmt::format("validation accuracy after {} steps", p_.sweep_steps)},
                          {}};
        for (const int64_t images : p_.sizes) {
            SizePoint& point = points_.emplace_back();
            point.train = images == data_.train.size()
                              ? data_.train
                              : subset(data_.train, 0, images, fmt::format("{}[:{}]", data_.train.name, images));
            ctx_.log(fmt::format("regularization: {} training images: learning-rate sweep on validation (seed 0)", images));
            ClaimData sweep_data = data_;
            sweep_data.train = point.train;
            for (const std::string& norm : kSweptNorms) {
                Table rows{{}, {}};
                const auto config_at = [&](double lr) {
                    return config(point.train, {norm, norm}, lr, 0, p_.sweep_steps, p_.sweep_steps);
                };
                point.lr[norm] = best_lr_on_validation(ctx_, fmt::format("{}-n{}", norm, images), p_.lr_grid,
                                                       config_at, sweep_data, rows);
                for (auto& row : rows.rows)
                    sweep_table.rows.push_back({norm, std::to_string(images), row.at(1), row.at(2)});
            }
            std::vector<std::pair<size_t, int>> jobs;  // (arm, seed), spread over the ranks
            for (size_t a = 0; a < kArms.size(); ++a)
                if (kArms[a].every_size || images == p_.sizes.back())
                    for (int s = 0; s < seeds_; ++s) jobs.emplace_back(a, s);
            const std::vector<nlohmann::json> outcomes = ctx_.spread(jobs.size(), [&](size_t i) {
                return outcome_json(train_arm(point, kArms[jobs[i].first], static_cast<uint64_t>(jobs[i].second)), true);
            });
            for (size_t i = 0; i < jobs.size(); ++i) point.outcomes[jobs[i].first].push_back(outcome_from_json(outcomes[i]));
            point.match_gaps(seeds_);
        }

        RegimeSeries series{"small-cnn (CIFAR-10)", "training images", {}};
        std::vector<std::string> reasons, keys;
        for (const SizePoint& point : points_) {
            series.points.push_back({static_cast<double>(point.images()), point.verdict,
                                     "gap(none) - gap(bn) " + effect_cell(point.findings.gap_none_minus_bn)});
            reasons.push_back(fmt::format("{} training images: {}: {}", point.images(), point.verdict, point.reason));
            keys.push_back(fmt::format("{} images: matched gap none {:.1f}, bn {:.1f}, gn {:.1f} points, dropout gain "
                                       "none {:+.1f}, bn {:+.1f}",
                                       point.images(), mean_of(point.gap_matched.at(kNone)),
                                       mean_of(point.gap_matched.at(kBn)), mean_of(point.gap_matched.at(kGn)),
                                       mean_of(point.dropout_gain("none")), mean_of(point.dropout_gain("bn"))));
        }
        result.set_regime(series, "training images (the size of the training set), small-cnn on CIFAR-10", reasons, keys);

        result.body = regime_summary(series);
        result.body += fmt::format(
            "small-cnn (conv16-conv32-FC), SGD momentum 0.9, no weight decay, constant learning rate, {} steps at "
            "batch 64 at every size ({:.0f} epochs of {} images, {:.0f} of {}), {} paired seed(s); the batch-512 arm "
            "takes 1/8 as many steps (the same images). Accuracy and gaps in percent / points.\n\n",
            p_.steps, epochs_at(p_.sizes.back()), p_.sizes.back(), epochs_at(p_.sizes.front()), p_.sizes.front(),
            seeds_);
        result.body += "### Learning rates (chosen on validation, seed 0)\n\n" + sweep_table.markdown();
        for (const SizePoint& point : points_)
            result.body += fmt::format("### {} training images\n\nVerdict at this size: **{}**.\n\n", point.images(),
                                       point.verdict) +
                           arms_table(point) + comparisons_table(point) + plots(point);
        result.deviations = deviations();
        return result;
    }

private:
    double epochs_at(int64_t images) const { return static_cast<double>(p_.steps * kBatch) / static_cast<double>(images); }

    TrainConfig config(const Dataset& train, const Arm& arm, double lr, uint64_t seed, int64_t steps,
                       int64_t eval_every) const {
        return run_config(train, {.arch = "small-cnn", .norm = arm.norm, .dropout = arm.dropout},
                          {.lr = lr, .batch = arm.batch, .steps = steps, .eval_every = eval_every, .seed = seed});
    }

    Outcome train_arm(const SizePoint& point, const Arm& arm, uint64_t seed) {
        const std::string name =
            fmt::format("{}-dropout{}-batch{}-n{}-seed{}", arm.norm, arm.dropout, arm.batch, point.images(), seed);
        const int64_t shrink = arm.batch / kBatch;  // the same training images at every batch
        TrainConfig c =
            config(point.train, arm, point.arm_lr(arm), seed, p_.steps / shrink, std::max<int64_t>(1, p_.eval_every / shrink));
        c.test_limit = p_.curve_images;  // the trainer's rows: the test slice of the fit curve
        if (ctx_.options().reuse_finished_runs)  // the record first: finished_run logs the reuse
            if (auto saved = read_outcome(std::filesystem::path(ctx_.runs_dir()) / name); saved && ctx_.finished_run(name, c))
                return *saved;
        FitRecorder fit(point.train, data_.test, p_.curve_images, arm.batch);
        const TrainedRun run = ctx_.train(name, c, point.train, data_.test, &fit);
        write_text_atomically(run.dir + "/fit.csv", fit.csv());
        Outcome o;
        o.curve = fit.points;
        o.images_seen = fit.images_seen;
        o.diverged = run.result.diverged;
        o.train_accuracy = eval_accuracy(*run.trainer, point.train);
        o.test_accuracy = eval_accuracy(*run.trainer, data_.test);
        write_outcome(run.dir, o);
        return o;
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

    // The regime table, and the rule's three comparisons against the training-set size.
    std::string regime_summary(const RegimeSeries& series) const {
        Table t{{"model", "where BN regularizes (rule A, B and C hold)"}, {{series.family, describe_series(series)}}};
        PlotSpec spec{"the rule's comparisons against the training-set size", "training images",
                      "points (paired over seeds)", {}, false, "top right"};
        spec.log_x = true;
        spec.reference_y = 0;
        spec.reference_label = "no effect";
        std::vector<double> x;
        std::vector<std::vector<double>> a, b, c;
        for (const SizePoint& point : points_) {
            x.push_back(static_cast<double>(point.images()));
            a.push_back(point.matched_gap_minus_bn(kNone));
            b.push_back(point.matched_gap_minus_bn(kGn));
            c.push_back(differences(point.dropout_gain("none"), point.dropout_gain("bn")));
        }
        spec.curves = {effect_curve("A: gap(none) - gap(bn), matched", x, a),
                       effect_curve("B: gap(gn) - gap(bn), matched", x, b),
                       effect_curve("C: dropout gain(none) - dropout gain(bn)", x, c)};
        return "### Where it holds\n\n" + t.markdown() +
               figure(ctx_.dir(), "comparisons_vs_training_images", spec,
                      "Mean over paired seeds, band: its 95% bootstrap CI. A comparison holds at a size when its band "
                      "lies above 0.");
    }

    std::string arms_table(const SizePoint& point) const {
        Table t{{"arm", "learning rate", "test accuracy", "training accuracy (eval mode)", "gap at the end",
                 "gap at matched training accuracy"},
                {}};
        for (const auto& [a, runs] : point.outcomes) {
            int diverged = 0;
            for (const Outcome& o : runs) diverged += o.diverged;
            t.rows.push_back({kArms[a].name + (diverged ? fmt::format(" ({} diverged)", diverged) : ""),
                              number(point.arm_lr(kArms[a]), 4), mean_std_ci(point.per_seed(a, &Outcome::test_accuracy)),
                              mean_std_ci(point.per_seed(a, &Outcome::train_accuracy)), mean_std_ci(point.end_gap(a)),
                              finite_cell(point.gap_matched.at(a))});
        }
        std::vector<std::string> levels;
        for (double l : point.matched_level) levels.push_back(number(100 * l, 1) + "%");
        return fmt::format("#### Arms (mean ± std [95% bootstrap CI] over seeds)\n\nTest accuracy on the {} test images "
                           "and training accuracy on all {} training images, both in eval mode at the end; gap = "
                           "training minus test accuracy. The matched training accuracy (per seed: {}) is the highest "
                           "that none, bn and gn all reach on the first {} training images; each arm's gap is read "
                           "off its fit curve there.\n\n",
                           data_.test.size(), point.images(), fmt::join(levels, ", "),
                           std::min(p_.curve_images, point.images())) +
               t.markdown();
    }

    std::string comparisons_table(const SizePoint& point) const {
        const RegularizationFindings& f = point.findings;
        Table t{{"comparison (points, paired over seeds)", "per seed", "mean [95% CI]", "part of the rule"}, {}};
        const auto row = [&](const std::string& what, const std::vector<double>& values, const std::string& rule) {
            std::vector<std::string> cells;
            for (double v : values) cells.push_back(number(v, 2));
            t.rows.push_back({what, fmt::format("{}", fmt::join(cells, ", ")), effect_cell(paired_effect(values)), rule});
        };
        const auto part = [](const char* name, const PairedEffect& e) {
            return fmt::format("{}: {}", name, e.clearly_positive() ? "holds" : "fails");
        };
        row("gap(none) - gap(bn), matched", point.matched_gap_minus_bn(kNone), part("A", f.gap_none_minus_bn));
        row("gap(gn) - gap(bn), matched", point.matched_gap_minus_bn(kGn), part("B", f.gap_gn_minus_bn));
        row("dropout gain(none) - dropout gain(bn), test accuracy",
            differences(point.dropout_gain("none"), point.dropout_gain("bn")), part("C", f.dropout_gain_none_minus_bn));
        for (const std::string norm : {"none", "bn", "gn"})
            if (point.ran(arm_index(norm, 0.5f)))
                row(fmt::format("dropout gain({}): test accuracy with dropout 0.5 minus without", norm),
                    point.dropout_gain(norm), "reported");
        if (const size_t large = arm_index("bn", 0.0f, 512); point.ran(large))
            row("gap(bn, batch 512) - gap(bn, batch 64), matched: BN's batch noise", point.matched_gap_minus_bn(large),
                "reported");
        row("gap(none) - gap(bn), end of training", differences(point.end_gap(kNone), point.end_gap(kBn)), "reported");
        return "#### The rule's comparisons\n\n" + t.markdown() + "A comparison holds when its 95% CI lies above 0" +
               (seeds_ <= 3 ? fmt::format(" (with {} seeds: every seed agrees)", seeds_) : std::string()) +
               ". If BN's batch noise is what regularizes, the batch-512 arm (same gradient noise, less batch-statistics noise) has a "
               "wider gap than BN at batch 64; if the normalization itself does, the two match.\n\n";
    }

    std::string plots(const SizePoint& point) const {
        PlotSpec gap{fmt::format("{} training images: train-test gap against training accuracy", point.images()),
                     "training accuracy, eval mode (%)", "training minus test accuracy (points)", {}};
        gap.key = "top left";
        PlotSpec test{fmt::format("{} training images: test accuracy over training", point.images()),
                      "training images seen", "test accuracy on the curve slice (%)", {}};
        gap.bands = test.bands = false;  // up to seven arms: their bands would cover each other
        for (const auto& [a, runs] : point.outcomes) {
            std::vector<double> mean_train;
            std::vector<std::vector<double>> gaps, tests;
            for (size_t i = 0; i < runs.front().images_seen.size(); ++i) {
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
            test.curves.push_back(points_curve(kArms[a].name, runs.front().images_seen, tests, 100));
        }
        const std::string suffix = fmt::format("_n{}", point.images());
        return "#### Plots\n\n" +
               figure(ctx_.dir(), "gap_vs_training_accuracy" + suffix, gap,
                      "Each point is one evaluation (x: training accuracy averaged over seeds); a narrower gap at the "
                      "same x is the regularization the claim is about. Lines: mean over seeds.") +
               figure(ctx_.dir(), "test_accuracy" + suffix, test, "Lines: mean over seeds (the tables give the spread).");
    }

    std::vector<std::string> deviations() const {
        const auto grid = [](const Profile& p) { return fmt::format("{{{}}}", fmt::join(p.lr_grid, ", ")); };
        std::vector<std::string> d{
            fmt::format("{} steps at batch 64 (10 epochs of 10,000 images) instead of 30 epochs: the protocol's 7 "
                        "arms x 30 epochs x 5 seeds on 10,000 images alone (10.5M training images) would take 2-3 "
                        "hours on 2 cores at the 1,000-2,500 images/s small-cnn trains at on CIFAR-10 (measured on one "
                        "thread: no norm fastest, GroupNorm slowest). Every size gets the same number of steps, so the "
                        "smaller sets are seen more often ({:.0f} epochs of {} images) and overfit more: the regime "
                        "where a regularizer matters.",
                        kFull.steps, static_cast<double>(kFull.steps * kBatch) / static_cast<double>(kFull.sizes.front()),
                        kFull.sizes.front()),
            "The training-set size is the regime axis (the protocol names one size, 10,000). At the smaller sizes "
            "only the rule's five arms run (none, bn, gn; none and bn with dropout 0.5); GroupNorm with dropout and "
            "BN at batch 512 are reported at the largest size.",
            fmt::format("The protocol fixes no learning rate: each norm gets its best of {} (SGD momentum 0.9) on {} "
                        "held-out validation images after {} steps at each size (seed 0); the dropout arms use their "
                        "norm's rate, and the batch-512 arm scales BN's linearly (x8) so that only BN's "
                        "batch-statistics noise changes.",
                        grid(kFull), kFull.data.validation_images, kFull.sweep_steps),
            fmt::format("The fit curves (and so the matched training accuracy) use fixed {}-image slices of the "
                        "training subset and of the test set, evaluated every {} steps, to keep evaluation cheap; "
                        "the end-of-training numbers use the whole training subset and test set.",
                        kFull.curve_images, kFull.eval_every)};
        if (ctx_.quick())
            d.push_back(fmt::format("Quick profile: {} training images at most, {} validation, {} test images, {} "
                                    "steps, learning rates {} after {} steps, {} seed: a smoke test, not evidence.",
                                    kQuick.data.train_images, kQuick.data.validation_images, kQuick.data.test_images,
                                    kQuick.steps, grid(kQuick), kQuick.sweep_steps, kQuick.seeds));
        return d;
    }

    const Profile p_;
    std::vector<SizePoint> points_;  // one per training-set size, increasing
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
        "CIFAR-10, small-cnn, the first 1,000, 3,000 and 10,000 training images (the regime axis), no "
        "augmentation, 1,560 steps at batch 64 at every size. Arms: {none, BN, GN (4 groups)} x {dropout 0, 0.5} at "
        "batch 64, and BN at batch 512 (learning rate x8, 1/8 of the steps); GN with dropout and BN at batch 512 at "
        "10,000 images only. Dropout sits before the last linear layer, after the last BN. 5 paired seeds (the "
        "reference's 30 epochs are 10 here: see deviations). Metrics: test accuracy, and training accuracy (eval "
        "mode) minus test accuracy, at the end and at matched training accuracy.",
        "At each training-set size, per seed, the matched training accuracy is the highest training accuracy (eval "
        "mode, on a fixed slice of the training images, evaluated every 156 steps) that the none, bn and gn arms "
        "(dropout 0) all reach; an arm's gap there is that level minus its test accuracy where its training accuracy "
        "first reaches it (linear between evaluations). Three paired comparisons, in points, each holding when the "
        "95% bootstrap CI of the mean over seeds lies above 0: (A) gap(none) - gap(bn) and (B) gap(gn) - gap(bn), at "
        "matched training accuracy; (C) dropout's gain in test accuracy (dropout 0.5 minus 0) without a norm minus "
        "with BN. At a size: confirmed if A, B and C hold; refuted if A does not (BN's gap is not smaller than "
        "without a norm); \"depends\" otherwise. Overall: confirmed if confirmed at every size, refuted if at none, "
        "\"depends\" otherwise, naming the sizes. The batch-512 arm is reported, not part of the rule.",
        run_experiment<RegularizationExperiment>,
    };
}

}  // namespace bnlab::claims
