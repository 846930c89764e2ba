// compare: the same training run under several arms (norms) and seeds, paired.
//
// Pairing: for a given seed every arm sees the same batches in the same order (the loader
// is seeded by the seed) and starts from the same weights in every layer the arms share
// (models/zoo.h), so a difference between arms is the norm's doing, not luck.
//
// For each arm: final test accuracy and loss (mean and std over seeds), steps to reach a
// target test accuracy (default: 95% of the weaker arm's mean final accuracy; runs that
// never reach it are counted as "not reached"), and divergences.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "train/trainer.h"

namespace bnlab {

struct CompareConfig {
    TrainConfig base;                         // everything the arms share
    std::vector<std::string> arms{"none", "bn"};  // a norm per arm
    int seeds = 3;
    uint64_t first_seed = 0;                  // seeds first_seed .. first_seed + seeds - 1
    double target = 0;                        // test accuracy to reach; 0: 95% of the weaker arm's final
};

struct CompareRun {
    std::string arm;
    uint64_t seed = 0;
    std::string dir;  // its run directory
    std::vector<MetricsRow> rows;
    RunResult result;
};

struct ArmSummary {
    std::string arm;
    int runs = 0, diverged = 0;
    double final_accuracy_mean = NAN, final_accuracy_std = NAN;
    double final_loss_mean = NAN, final_loss_std = NAN;
    std::vector<std::optional<int64_t>> steps_to_target;  // per seed; nullopt: never reached
    double median_steps_to_target = NAN;  // over all seeds; NaN if half or more never reached it
    int reached = 0;
    double wall_seconds = 0;
};

struct CompareResult {
    std::vector<CompareRun> runs;  // arm-major: arm 0 seeds..., arm 1 seeds...
    std::vector<ArmSummary> arms;
    double target = 0;
    // Chance accuracy (1 / classes; 0: unknown). The default target ignores arms that stayed
    // near it (final accuracy below kLearnedOverChance x chance), listed in `near_chance`: a
    // target under chance would be "reached" by every arm at its first evaluation.
    double chance = 0;
    std::vector<std::string> near_chance;
    double wall_seconds = 0;
};
constexpr double kLearnedOverChance = 1.5;

// How a caller follows the runs (both optional): make_observer wraps a run's recorder, e.g.
// with a progress bar (it gets the recorder and a label such as "bn seed 1"); run_finished
// is called after each run.
struct CompareCallbacks {
    std::function<std::unique_ptr<TrainObserver>(TrainObserver& recorder, const std::string& label)> make_observer;
    std::function<void(const CompareRun&)> run_finished;
};

// Throws FieldError naming the first bad field: "arms" (empty, or an arm not in norm_names()),
// "seeds" (< 1), "target" (outside [0, 1]), or one of base's (TrainConfig::validate).
void validate(const CompareConfig& config);

// Validates the config, then trains every arm x seed. Each run writes its directory
// out_dir/<arm>-seed<k> (train/run_recorder.h).
CompareResult run_compare(const CompareConfig& config, const Dataset& train, const Dataset& test,
                          const std::string& out_dir, const CompareCallbacks& callbacks = {});

// Fills target, arms[] from runs (exposed for tests on hand-made rows).
void summarize(CompareResult& result, const std::vector<std::string>& arms, double requested_target);

// Writes out_dir/summary.csv, out_dir/report.md and the plots (out_dir/plots/*.png via
// gnuplot, with their data and script kept beside them). Returns the report's path.
// `command` is the command line that produced the result, quoted in the report.
std::string write_compare_report(const CompareResult& result, const CompareConfig& config, const std::string& out_dir,
                                 const std::string& command);

}  // namespace bnlab
