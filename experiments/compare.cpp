#include "experiments/compare.h"

#include <cblas.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/parallel.h"
#include "experiments/plot.h"
#include "train/run_recorder.h"
#include "experiments/stats.h"

namespace bnlab {

namespace {

// Forwards to the recorder only (no console output).
struct Quiet : TrainObserver {
    explicit Quiet(TrainObserver& next) : next(next) {}
    void on_step(const StepProgress& p) override { next.on_step(p); }
    void on_row(const MetricsRow& r) override { next.on_row(r); }
    TrainObserver& next;
};

std::string pct(double v) { return std::isnan(v) ? "n/a" : fmt::format("{:.2f}%", 100 * v); }

}  // namespace

void validate(const CompareConfig& config) {
    if (config.arms.empty()) throw FieldError("arms", "need at least one arm");
    for (size_t i = 0; i < config.arms.size(); ++i) {
        require_choice("arms", "norm", config.arms[i], norm_names());
        // Each arm writes its runs into a folder named after it: twice the same arm would
        // train into one folder and list it twice.
        for (size_t j = 0; j < i; ++j)
            if (config.arms[j] == config.arms[i]) throw FieldError("arms", "'" + config.arms[i] + "' is listed twice");
    }
    if (config.seeds < 1) throw FieldError("seeds", fmt::format("need at least 1, got {}", config.seeds));
    if (!(config.target >= 0 && config.target <= 1))
        throw FieldError("target", fmt::format("must be in [0, 1], got {}", config.target));
    config.base.validate();
}

CompareResult run_compare(const CompareConfig& config, const Dataset& train, const Dataset& test,
                          const std::string& out_dir, const CompareCallbacks& callbacks) {
    validate(config);
    const auto start = std::chrono::steady_clock::now();
    CompareResult result;
    result.chance = train.class_names.empty() ? 0 : 1.0 / static_cast<double>(train.class_names.size());
    for (const std::string& arm : config.arms) {
        for (int s = 0; s < config.seeds; ++s) {
            TrainConfig c = config.base;
            c.model.norm = arm;
            c.seed = config.first_seed + static_cast<uint64_t>(s);
            CompareRun run;
            run.arm = arm;
            run.seed = c.seed;
            run.dir = fmt::format("{}/{}-seed{}", out_dir, arm, c.seed);
            Trainer trainer(c, train, test);
            RunRecorder recorder(run.dir, trainer);
            const std::string label = fmt::format("{} seed {}", arm, c.seed);
            std::unique_ptr<TrainObserver> observer = callbacks.make_observer ? callbacks.make_observer(recorder, label)
                                                                              : std::make_unique<Quiet>(recorder);
            run.result = trainer.run(*observer);
            recorder.finish(run.result, trainer);
            run.rows = recorder.rows();
            if (callbacks.run_finished) callbacks.run_finished(run);
            result.runs.push_back(std::move(run));
        }
    }
    result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    summarize(result, config.arms, config.target);
    return result;
}

void summarize(CompareResult& result, const std::vector<std::string>& arms, double requested_target) {
    result.arms.clear();
    for (const std::string& arm : arms) {
        ArmSummary s;
        s.arm = arm;
        std::vector<double> accuracy, loss;
        for (const CompareRun& r : result.runs) {
            if (r.arm != arm) continue;
            ++s.runs;
            s.wall_seconds += r.result.wall_seconds;
            if (r.result.diverged) {
                ++s.diverged;
                continue;  // a diverged run has no final accuracy; it is counted in `diverged`
            }
            accuracy.push_back(r.result.last.test_accuracy);
            loss.push_back(r.result.last.test_loss);
        }
        s.final_accuracy_mean = mean_of(accuracy);
        s.final_accuracy_std = sample_std(accuracy);
        s.final_loss_mean = mean_of(loss);
        s.final_loss_std = sample_std(loss);
        result.arms.push_back(s);
    }
    // Default target: 95% of the weakest arm's mean final accuracy, among the arms that learned
    // (arms that all diverged aside; all of them if none learned).
    double weakest = INFINITY, weakest_learned = INFINITY;
    result.near_chance.clear();
    for (const ArmSummary& s : result.arms) {
        if (std::isnan(s.final_accuracy_mean)) continue;
        weakest = std::min(weakest, s.final_accuracy_mean);
        if (s.final_accuracy_mean >= kLearnedOverChance * result.chance)
            weakest_learned = std::min(weakest_learned, s.final_accuracy_mean);
        else
            result.near_chance.push_back(s.arm);
    }
    if (std::isfinite(weakest_learned)) weakest = weakest_learned;
    result.target = requested_target > 0 ? requested_target : (std::isfinite(weakest) ? 0.95 * weakest : 1.0);
    for (ArmSummary& s : result.arms) {
        std::vector<double> steps;  // never reached = +inf, so the median counts censored runs
        for (const CompareRun& r : result.runs) {
            if (r.arm != s.arm) continue;
            const auto reached = steps_to_target(r.rows, result.target);
            s.steps_to_target.push_back(reached);
            s.reached += reached.has_value();
            steps.push_back(reached ? static_cast<double>(*reached) : INFINITY);
        }
        const double median = median_of(steps);
        s.median_steps_to_target = std::isfinite(median) ? median : NAN;
    }
}

namespace {

// How the default target was chosen, for the report.
std::string default_target_text(const CompareResult& result) {
    if (result.near_chance.empty() || result.near_chance.size() == result.arms.size())
        return " (95% of the weaker arm's mean final accuracy)";
    return fmt::format(" (95% of the mean final accuracy of the weakest arm that learned: {} stayed near chance, "
                       "below {:.1f}% = {}x the {:.1f}% of guessing, and count as not reaching it)",
                       fmt::join(result.near_chance, ", "), 100 * kLearnedOverChance * result.chance, kLearnedOverChance,
                       100 * result.chance);
}

// Mean and min-max over the seeds of one arm, at each evaluated step.
Curve arm_curve(const CompareResult& result, const std::string& arm, double MetricsRow::*field) {
    std::vector<const std::vector<MetricsRow>*> runs;
    for (const CompareRun& r : result.runs)
        if (r.arm == arm) runs.push_back(&r.rows);
    return band_curve(arm, runs, field);
}

std::string today() {
    const std::time_t now = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
    return buf;
}

std::string arm_table(const CompareResult& result) {
    const ArmSummary& baseline = result.arms.front();
    std::string t = fmt::format(
        "| arm | final test accuracy | final test loss | steps to {} (median) | reached | speed-up vs {} | diverged |\n"
        "|---|---|---|---|---|---|---|\n",
        pct(result.target), baseline.arm);
    // The baseline's last evaluated step: a baseline that never reached the target needed more.
    int64_t baseline_steps = 0;
    for (const CompareRun& r : result.runs)
        if (r.arm == baseline.arm && !r.rows.empty()) baseline_steps = std::max(baseline_steps, r.rows.back().step);
    const auto speed_up = [&](const ArmSummary& s) -> std::string {
        const double ratio = baseline.median_steps_to_target / s.median_steps_to_target;
        if (!std::isnan(ratio)) return fmt::format("{:.2f}x", ratio);
        if (std::isnan(baseline.median_steps_to_target) && !std::isnan(s.median_steps_to_target) && baseline_steps > 0)
            return fmt::format("> {:.2f}x ({} did not reach it in {} steps)",
                               static_cast<double>(baseline_steps) / s.median_steps_to_target, baseline.arm, baseline_steps);
        return "n/a";
    };
    for (const ArmSummary& s : result.arms) {
        t += fmt::format("| {} | {} ± {} | {:.4f} ± {:.4f} | {} | {}/{} | {} | {}/{} |\n", s.arm, pct(s.final_accuracy_mean),
                         pct(s.final_accuracy_std), s.final_loss_mean, s.final_loss_std,
                         std::isnan(s.median_steps_to_target) ? "not reached" : fmt::format("{:.0f}", s.median_steps_to_target),
                         s.reached, s.runs, speed_up(s), s.diverged, s.runs);
    }
    return t;
}

// Each later arm against the first, paired by seed: the per-seed difference in final test
// accuracy (arm - first; same seed = same initial weights and batches), its mean with a 95%
// bootstrap interval, and a verdict line that says whether the interval excludes zero.
std::string paired_verdict(const CompareResult& result) {
    const std::string& first = result.arms.front().arm;
    std::string text;
    for (size_t a = 1; a < result.arms.size(); ++a) {
        const std::string& arm = result.arms[a].arm;
        std::vector<double> differences;
        for (const CompareRun& base : result.runs) {
            if (base.arm != first) continue;
            for (const CompareRun& other : result.runs)
                if (other.arm == arm && other.seed == base.seed && !base.result.diverged && !other.result.diverged)
                    differences.push_back(100 * (other.result.last.test_accuracy - base.result.last.test_accuracy));
        }
        if (differences.size() < 2) {
            text += fmt::format("**Verdict ({} vs {}):** n/a: fewer than 2 paired seeds finished in both arms.\n\n", arm, first);
            continue;
        }
        const double mean = mean_of(differences);
        const Interval ci = bootstrap_mean_ci(differences);
        const std::string verdict = ci.low > 0    ? fmt::format("{} is more accurate than {}", arm, first)
                                    : ci.high < 0 ? fmt::format("{} is less accurate than {}", arm, first)
                                                  : "no detectable difference in final accuracy at this many seeds";
        text += fmt::format("Paired by seed ({} pairs), final test accuracy {} - {}: {:+.2f} points, 95% bootstrap "
                            "interval [{:+.2f}, {:+.2f}].\n\n**Verdict ({} vs {}):** {}.\n\n",
                            differences.size(), arm, first, mean, ci.low, ci.high, arm, first, verdict);
    }
    return text;
}

}  // namespace

std::string write_compare_report(const CompareResult& result, const CompareConfig& config, const std::string& out_dir,
                                 const std::string& command) {
    std::filesystem::create_directories(out_dir + "/plots");
    // summary.csv: one row per run.
    std::string csv = "arm,seed,final_test_accuracy,final_test_loss,steps_to_target,diverged_at,wall_seconds,dir\n";
    for (const CompareRun& r : result.runs) {
        const auto steps = steps_to_target(r.rows, result.target);
        csv += fmt::format("{},{},{:.6g},{:.6g},{},{},{:.2f},{}\n", r.arm, r.seed, r.result.last.test_accuracy,
                           r.result.last.test_loss, steps ? std::to_string(*steps) : "", r.result.diverged ? std::to_string(r.result.diverged_at) : "",
                           r.result.wall_seconds, r.dir);
    }
    write_text_atomically(out_dir + "/summary.csv", csv);

    // Plots: one line per arm (mean over seeds) with the min-max band.
    std::vector<Curve> accuracy, loss;
    for (const ArmSummary& s : result.arms) {
        accuracy.push_back(scaled(arm_curve(result, s.arm, &MetricsRow::test_accuracy), 100));  // in %, as the report
        loss.push_back(arm_curve(result, s.arm, &MetricsRow::train_loss));
    }
    const TrainConfig& b = config.base;
    const std::string what = fmt::format("{} on {}", b.model.arch, b.dataset);
    std::string plot_problems;
    PlotSpec accuracy_plot{"test accuracy, " + what, "step", "test accuracy (%)", accuracy, false, "bottom right"};
    accuracy_plot.reference_y = 100 * result.target;
    accuracy_plot.reference_label = "target " + pct(result.target);
    for (const auto& [name, spec] : std::vector<std::pair<std::string, PlotSpec>>{
             {"test_accuracy", accuracy_plot},
             {"train_loss", {"training loss, " + what, "step", "training loss (mean over the steps since the last point)", loss,
                             true, "top right"}}}) {
        const std::string problem = plot_bands(out_dir + "/plots", name, spec);
        if (!problem.empty()) plot_problems += "- " + name + ".png: " + problem + "\n";
    }

    std::string r = fmt::format("# {}: {}\n\n", what, fmt::join(config.arms, " vs "));
    r += "Each arm trains the same model on the same data with the same settings; only the normalization "
         "differs. For a given seed every arm sees the same batches in the same order and starts from the same "
         "weights in every layer they share.\n\n";
    r += "## Results\n\n" + arm_table(result) + "\n" + paired_verdict(result) + "\n";
    r += fmt::format("Mean ± sample standard deviation over {} seeds. Target: {} test accuracy{}. \"steps to target\" is the "
                     "first evaluation (every {} steps) at which a run's test accuracy reached the target; runs that never "
                     "reached it count as not reached, and the median is \"not reached\" when half the runs or more did not. "
                     "\"speed-up\" divides the first arm's median steps by this arm's.\n\n",
                     config.seeds, pct(result.target),
                     config.target > 0 ? "" : default_target_text(result),
                     result.runs.empty() || result.runs.front().rows.empty() ? 0 : result.runs.front().rows.front().step);
    r += "![test accuracy](plots/test_accuracy.png)\n\n![training loss](plots/train_loss.png)\n\n";
    if (!plot_problems.empty()) r += "Plots not drawn:\n" + plot_problems + "\n";
    r += "Lines: mean over seeds; bands: min to max over seeds.\n\n## Runs\n\n"
         "| arm | seed | final test accuracy | steps to target | wall time | directory |\n|---|---|---|---|---|---|\n";
    for (const CompareRun& run : result.runs) {
        const auto steps = steps_to_target(run.rows, result.target);
        r += fmt::format("| {} | {} | {} | {} | {:.1f}s | `{}` |\n", run.arm, run.seed,
                         run.result.diverged ? fmt::format("diverged at step {}", run.result.diverged_at)
                                             : pct(run.result.last.test_accuracy),
                         steps ? std::to_string(*steps) : "not reached", run.result.wall_seconds, run.dir);
    }
    r += fmt::format("\n## What was run\n\n```\n{}\n```\n\n", command);
    r += fmt::format("- data: {}, {} training images{}, test on {}\n", b.dataset,
                     b.train_limit > 0 ? std::to_string(b.train_limit) : "all", b.augment ? " (augmented)" : "",
                     b.test_limit > 0 ? "the first " + std::to_string(b.test_limit) + " test images" : "the whole test set");
    r += fmt::format("- model: {}, norm {} the activation; optimizer {} lr {} momentum {} weight decay {}, schedule {}, "
                     "batch {}, {} steps per run\n",
                     b.model.arch, b.model.norm_after_activation ? "after" : "before", b.optimizer, b.lr, b.momentum,
                     b.weight_decay, b.schedule, b.batch_size,
                     result.runs.empty() ? 0 : result.runs.front().result.steps);
    r += fmt::format("- seeds {}..{}, {} threads, total wall time {:.1f}s, {}\n", config.first_seed,
                     config.first_seed + static_cast<uint64_t>(config.seeds) - 1, num_threads(), result.wall_seconds, today());
    r += fmt::format("- bnlab 0.1, {}, g++ {}\n", openblas_get_config(), __VERSION__);
    r += "\nEvery run directory holds its config.json, metrics.csv (with per-layer gradient norms), train.log and "
         "model.safetensors; plots/ holds each plot's data and gnuplot script.\n";
    write_text_atomically(out_dir + "/report.md", r);
    return out_dir + "/report.md";
}

}  // namespace bnlab
