#include "experiments/claims/twin_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/atomic_file.h"
#include "core/error.h"
#include "experiments/claims/claims.h"
#include "experiments/claims/report.h"
#include "experiments/stats.h"

namespace bnlab::claims {

namespace {

constexpr double kSeparation = 0.01;  // relative difference of a step's losses that counts as parted
constexpr double kRounding = 1e-5;    // ... that is still float rounding (float32: ~6e-8 per operation)

double relative_difference(double a, double b) { return std::abs(a - b) / std::abs(b); }

// The run a framework's results hold for `name`; Error naming both if it is missing.
const TwinRunResult& result_of(const TwinResults& results, const std::string& name) {
    const auto it = results.runs.find(name);
    if (it == results.runs.end()) throw Error(fmt::format("{} results: no run '{}'", results.framework, name));
    return it->second;
}

std::string depth_regime(int depth) { return fmt::format("depth {}", depth); }

// The names of the protocol's runs of `claim` that `keep` selects.
template <class Keep>
std::vector<std::string> runs_where(const TwinProtocol& p, const std::string& claim, Keep keep) {
    std::vector<std::string> names;
    for (const TwinRun& r : p.runs)
        if (r.claim == claim && keep(r)) names.push_back(r.name);
    return names;
}

// The common verdict of the regimes, or "depends" when they differ (as the claims combine models).
TwinOutcome overall(const std::vector<TwinOutcome>& regimes) {
    TwinOutcome o{.regime = "overall", .key = "", .value = NAN, .verdict = regimes.front().verdict, .detail = "", .runs = {}};
    for (const TwinOutcome& r : regimes)
        if (r.verdict != o.verdict) o.verdict = "depends";
    o.detail = o.verdict == "depends" ? "the regimes' verdicts differ" : "every regime agrees";
    return o;
}

std::string steps_text(std::optional<int64_t> steps) { return steps ? std::to_string(*steps) : "never"; }

// --- convergence --------------------------------------------------------------------------

struct ConvergenceArm {
    double lr = NAN;
    std::vector<std::optional<int64_t>> steps;  // per seed, at lr
};

// An arm's rate, chosen on its seed-0 runs as the convergence claim chooses: fewest smoothed
// steps to the target; among equal steps (or none reaching it), the higher final validation
// accuracy (a run with a non-finite loss ranks last).
ConvergenceArm convergence_arm(const TwinProtocol& p, const TwinResults& results, int depth, const std::string& arm) {
    const ConvergenceTwin& c = p.profile.convergence;
    const auto run = [&](double lr, int seed) -> const TwinRunResult& {
        return result_of(results, twin_run_name("convergence", depth, arm, lr, c.batch, static_cast<uint64_t>(seed)));
    };
    const auto steps_of = [&](const TwinRunResult& r) { return smoothed_steps_to_target(r.rows, c.target, c.smoothing); };
    ConvergenceArm out;
    std::pair<double, double> best{INFINITY, -INFINITY};  // (steps, accuracy)
    for (double lr : c.lrs) {
        const TwinRunResult& r = run(lr, 0);
        const auto steps = steps_of(r);
        const double s = steps ? static_cast<double>(*steps) : INFINITY;
        const double accuracy = std::isnan(r.validation_accuracy) ? -1 : r.validation_accuracy;
        if (std::isnan(out.lr) || s < best.first || (s == best.first && accuracy > best.second)) {
            best = {s, accuracy};
            out.lr = lr;
        }
    }
    for (int seed = 0; seed < c.seeds; ++seed) out.steps.push_back(steps_of(run(out.lr, seed)));
    return out;
}

std::string speed_text(double r) { return std::isinf(r) ? "∞" : number(r, 2); }

std::string steps_list(const std::vector<std::optional<int64_t>>& steps) {
    std::vector<std::string> out;
    for (const auto& s : steps) out.push_back(steps_text(s));
    return fmt::format("{}", fmt::join(out, ", "));
}

// --- learning-rate ------------------------------------------------------------------------

struct LearningRateSweep {
    LearningRateArm summary;
    Band band;
    std::vector<std::string> per_rate;  // "lr 1: 84.1% (seed 1 failed: ...)"
};

LearningRateSweep learning_rate_arm(const TwinProtocol& p, const TwinResults& results, int depth,
                                    const std::string& arm) {
    const LearningRateTwin& l = p.profile.learning_rate;
    LearningRateSweep out;
    std::vector<double> means;  // mean validation accuracy per rate; NaN where a seed diverged
    for (size_t i = 0; i < l.lrs.size(); ++i) {
        std::vector<double> accuracies;
        std::vector<std::string> failures;
        bool diverged = false;
        for (int seed = 0; seed < l.seeds; ++seed) {
            const TwinRunResult& r = result_of(
                results, twin_run_name("learning-rate", depth, arm, l.lrs[i], l.batch, static_cast<uint64_t>(seed)));
            diverged = diverged || r.diverged;
            accuracies.push_back(r.validation_accuracy);
            if (r.diverged) failures.push_back(fmt::format("seed {} diverged: {}", seed, r.divergence));
            else if (r.validation_accuracy <= l.chance)
                failures.push_back(fmt::format("seed {} ended at chance ({:.2f}%)", seed, 100 * r.validation_accuracy));
        }
        if (failures.empty()) out.summary.largest_stable = static_cast<int>(i);
        means.push_back(diverged ? NAN : mean_of(accuracies));
        out.per_rate.push_back(fmt::format("lr {}: {}{}", grid_label(l.lrs[i]),
                                           diverged ? "diverged" : number(100 * means.back(), 2) + "%",
                                           failures.empty() ? "" : fmt::format(" ({})", fmt::join(failures, "; "))));
    }
    out.band = band_around_best(means, l.band_tolerance);
    out.summary.band_points = static_cast<int>(out.band.points());
    return out;
}

// "lr 0.03 .. 0.1 (best 80.90% at 0.03)", or "none" when every rate diverged.
std::string band_text(const Band& band, const std::vector<double>& lrs) {
    if (!band.found) return "none";
    return fmt::format("lr {} .. {} (best {:.2f}% at {})", grid_label(lrs[band.first]), grid_label(lrs[band.last]),
                       100 * band.best_score, grid_label(lrs[band.best]));
}

// --- batch-size ---------------------------------------------------------------------------

// Test error (%) per seed of an arm at a batch; a run with a non-finite loss is at chance.
std::vector<double> test_errors(const TwinProtocol& p, const TwinResults& results, const std::string& arm,
                                int64_t batch) {
    const BatchSizeTwin& b = p.profile.batch_size;
    const double lr = b.lr0 * static_cast<double>(batch) / static_cast<double>(b.reference_batch);
    std::vector<double> errors;
    for (int seed = 0; seed < b.seeds; ++seed) {
        const TwinRunResult& r =
            result_of(results, twin_run_name("batch-size", b.depth, arm, lr, batch, static_cast<uint64_t>(seed)));
        const double accuracy = std::isnan(r.test_accuracy) ? 1.0 / static_cast<double>(p.classes) : r.test_accuracy;
        errors.push_back(100 * (1 - accuracy));
    }
    return errors;
}

// batch_size_verdict's thresholds for one arm: BN fails if its error rises by more than 3 points
// with the CI above 0; GN and LN hold if it rises by at most 1 point; no rule for "none".
std::string arm_verdict(const std::string& arm, const PairedEffect& change) {
    if (arm == "bn") return change.mean > 3 && change.clearly_positive() ? "fails" : "does not fail";
    if (arm == "gn" || arm == "ln") return change.mean <= 1 ? "holds" : "does not hold";
    return "no rule";
}

std::string values_text(const std::vector<double>& v) {
    std::vector<std::string> out;
    for (double x : v) out.push_back(number(x, 2));
    return fmt::format("{}", fmt::join(out, ", "));
}

}  // namespace

int64_t parting_step(const std::vector<double>& a, const std::vector<double>& b, double relative) {
    const size_t n = std::min(a.size(), b.size());
    for (size_t i = 0; i < n; ++i)
        if (!(std::abs(a[i] - b[i]) <= relative * std::max(std::abs(a[i]), std::abs(b[i]))))
            return static_cast<int64_t>(i) + 1;
    return a.size() == b.size() ? -1 : static_cast<int64_t>(n) + 1;
}

std::vector<TwinOutcome> convergence_outcomes(const TwinProtocol& p, const TwinResults& results) {
    const ConvergenceTwin& c = p.profile.convergence;
    std::vector<TwinOutcome> out;
    for (int depth : c.depths) {
        const ConvergenceArm none = convergence_arm(p, results, depth, "none");
        const ConvergenceArm bn = convergence_arm(p, results, depth, "bn");
        std::vector<double> ratios;
        for (size_t s = 0; s < none.steps.size(); ++s) ratios.push_back(censored_ratio(none.steps[s], bn.steps[s]));
        const SpeedUp speed = speed_up(ratios);
        out.push_back({.regime = depth_regime(depth),
                       .key = fmt::format("{}x [{}, {}] (lr none {}, bn {})", speed_text(speed.median),
                                          speed_text(speed.ci.low), speed_text(speed.ci.high), grid_label(none.lr),
                                          grid_label(bn.lr)),
                       .value = speed.median,
                       // the rule at tuned rates only: no same-rate comparison in the twin
                       .verdict = convergence_verdict(SpeedUp{}, speed),
                       .detail = fmt::format("rates chosen on seed 0: none {}, bn {}; smoothed steps to {:.0f}% per "
                                             "seed: none {}; bn {}",
                                             grid_label(none.lr), grid_label(bn.lr), 100 * c.target,
                                             steps_list(none.steps), steps_list(bn.steps)),
                       .runs = runs_where(p, "convergence", [&](const TwinRun& r) { return r.depth == depth; })});
    }
    out.push_back(overall(out));
    return out;
}

std::vector<TwinOutcome> learning_rate_outcomes(const TwinProtocol& p, const TwinResults& results) {
    const LearningRateTwin& l = p.profile.learning_rate;
    const auto rate = [&](int i) { return i < 0 ? std::string("none") : grid_label(l.lrs[static_cast<size_t>(i)]); };
    std::vector<TwinOutcome> out;
    for (int depth : l.depths) {
        const LearningRateSweep none = learning_rate_arm(p, results, depth, "none");
        const LearningRateSweep bn = learning_rate_arm(p, results, depth, "bn");
        out.push_back({.regime = depth_regime(depth),
                       .key = fmt::format("largest stable lr: none {}, bn {}; band {} vs {} rates",
                                          rate(none.summary.largest_stable), rate(bn.summary.largest_stable),
                                          none.summary.band_points, bn.summary.band_points),
                       .value = static_cast<double>(bn.summary.largest_stable - none.summary.largest_stable),
                       .verdict = learning_rate_verdict(none.summary, bn.summary),
                       .detail = fmt::format("bands within {:.0f} point of the best: none {}, bn {}; mean validation "
                                             "accuracy by rate: none {}; bn {}",
                                             100 * l.band_tolerance, band_text(none.band, l.lrs),
                                             band_text(bn.band, l.lrs), fmt::join(none.per_rate, ", "),
                                             fmt::join(bn.per_rate, ", ")),
                       .runs = runs_where(p, "learning-rate", [&](const TwinRun& r) { return r.depth == depth; })});
    }
    out.push_back(overall(out));
    return out;
}

std::vector<TwinOutcome> batch_size_outcomes(const TwinProtocol& p, const TwinResults& results) {
    const BatchSizeTwin& b = p.profile.batch_size;
    std::vector<TwinOutcome> out;
    std::vector<SmallBatchChange> changes;
    for (int64_t batch : b.batches) {
        if (batch == b.reference_batch) continue;
        SmallBatchChange change{.batch = batch, .bn = {}, .gn = {}, .ln = {}};
        for (const std::string& arm : b.arms) {
            const std::vector<double> small = test_errors(p, results, arm, batch);
            const std::vector<double> reference = test_errors(p, results, arm, b.reference_batch);
            const PairedEffect effect = paired_effect(differences(small, reference));
            if (arm == "bn") change.bn = effect;
            if (arm == "gn") change.gn = effect;
            if (arm == "ln") change.ln = effect;
            out.push_back({.regime = fmt::format("{}, B={}", arm, batch),
                           .key = effect_cell(effect) + " points",
                           .value = effect.mean,
                           .verdict = arm_verdict(arm, effect),
                           .detail = fmt::format("test error (%) per seed at B={}: {}; at B={}: {}", batch,
                                                 values_text(small), b.reference_batch, values_text(reference)),
                           .runs = runs_where(p, "batch-size", [&](const TwinRun& r) {
                               return r.arm == arm && (r.batch == batch || r.batch == b.reference_batch);
                           })});
        }
        changes.push_back(change);
    }
    const auto [verdict, reason] = batch_size_verdict(changes);
    out.push_back({.regime = "overall", .key = "", .value = NAN, .verdict = verdict, .detail = reason, .runs = {}});
    return out;
}

namespace {

// The run with the largest `difference` (NaN counts as the largest); nullptr for no runs.
const TwinRunComparison* worst_run(const std::vector<TwinRunComparison>& runs, double TwinRunComparison::*difference) {
    const TwinRunComparison* worst = nullptr;
    for (const TwinRunComparison& r : runs)
        if (!worst || !(r.*difference <= worst->*difference)) worst = &r;
    return worst;
}

}  // namespace

const TwinRunComparison* TwinComparison::worst_first_step() const {
    return worst_run(runs, &TwinRunComparison::first_loss_difference);
}
const TwinRunComparison* TwinComparison::worst_second_step() const {
    return worst_run(runs, &TwinRunComparison::second_loss_difference);
}

TwinComparison compare_twins(const TwinProtocol& protocol, const TwinResults& bnlab, const TwinResults& pytorch) {
    TwinComparison out;
    const auto pair_up = [&](const std::string& claim, const auto& outcomes) {
        const std::vector<TwinOutcome> b = outcomes(protocol, bnlab), t = outcomes(protocol, pytorch);
        for (size_t i = 0; i < b.size(); ++i) out.rows.push_back({claim, b[i], t[i]});
    };
    pair_up("convergence", convergence_outcomes);
    pair_up("learning-rate", learning_rate_outcomes);
    pair_up("batch-size", batch_size_outcomes);
    for (const TwinRun& run : protocol.runs) {
        const TwinRunResult& b = result_of(bnlab, run.name);
        const TwinRunResult& t = result_of(pytorch, run.name);
        TwinRunComparison c{.run = run.name};
        if (!b.losses.empty() && !t.losses.empty())
            c.first_loss_difference = relative_difference(b.losses.front(), t.losses.front());
        if (b.losses.size() > 1 && t.losses.size() > 1) c.second_loss_difference = relative_difference(b.losses[1], t.losses[1]);
        const int64_t rounding_parts = parting_step(b.losses, t.losses, kRounding);
        c.rounding_until = rounding_parts < 0 ? static_cast<int64_t>(b.losses.size()) : rounding_parts - 1;
        c.separation = parting_step(b.losses, t.losses, kSeparation);
        if (!b.rows.empty() && !t.rows.empty() && b.rows.front().step == t.rows.front().step &&
            b.rows.front().step <= c.rounding_until)
            c.first_evaluation_difference = relative_difference(b.rows.front().test_loss, t.rows.front().test_loss);
        c.validation_difference = 100 * (b.validation_accuracy - t.validation_accuracy);
        out.runs.push_back(c);
    }
    return out;
}

TwinComparison write_twin_report(const std::string& dir, const std::string& out, const std::string& command) {
    const TwinProtocol protocol = read_twin_protocol(read_json_file(dir + "/protocol.json"), dir + "/protocol.json");
    const TwinResults bnlab = read_twin_results(read_json_file(dir + "/bnlab.json"), dir + "/bnlab.json");
    const TwinResults pytorch = read_twin_results(read_json_file(dir + "/pytorch.json"), dir + "/pytorch.json");
    TwinComparison comparison = compare_twins(protocol, bnlab, pytorch);
    write_text_atomically(out, twin_report_markdown(protocol, bnlab, pytorch, comparison, command));
    return comparison;
}

}  // namespace bnlab::claims
