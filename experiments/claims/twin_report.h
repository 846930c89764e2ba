// The twin report: bnlab's and PyTorch's results of the same runs (twins.h), each turned into
// the claims' key numbers and verdicts by the same code, side by side.
//
// Per claim and regime point:
//   convergence    per depth: each arm's rate chosen on its seed-0 runs; the median over seeds
//                  of steps(none)/steps(bn) to the smoothed target; convergence_verdict's rule
//   learning-rate  per depth: each arm's largest rate at which no seed failed and its band
//                  within 1 point of the best mean validation accuracy; learning_rate_verdict
//   batch-size     per arm: test error at the small batch minus at the reference batch (points,
//                  paired over seeds); BN fails / GN, LN hold (batch_size_verdict's thresholds)
// plus an overall row per claim, and checks that the twins are the same runs: the loss of step
// 1 (same weights, same batch) must agree to ~1e-4 relative.
#pragma once

#include <string>
#include <vector>

#include "experiments/claims/twins.h"

namespace bnlab::claims {

// One framework's reading of one regime point.
struct TwinOutcome {
    std::string regime;   // e.g. "depth 2", "bn, B=2", "overall"
    std::string key;      // the key number(s), as the table shows them
    double value = NAN;   // the headline number (speed-up, largest stable rate, change in points)
    std::string verdict;  // "confirmed", "refuted", "depends"; batch-size arms: "fails", "holds", ...
    std::string detail;   // the numbers behind it (per seed, per rate), for explanations
    std::vector<std::string> runs;  // the runs it reads (none listed: every run of the claim)
};

struct TwinRow {
    std::string claim;
    TwinOutcome bnlab, pytorch;  // the same regime
    bool agree() const { return bnlab.verdict == pytorch.verdict; }
};

// Where two runs of the same protocol part: the first step whose training losses differ by more
// than `relative` (|a - b| > relative * max(|a|, |b|)); -1 if they never do. When one run stopped
// early (a non-finite loss) and they agreed until then, the step after the shorter one.
int64_t parting_step(const std::vector<double>& a, const std::vector<double>& b, double relative);

// How closely a run and its twin agree. Summation order alone makes the losses differ in the
// last bits (~1e-7 relative); training amplifies that, so the losses stay within rounding for a
// while, then part quickly. A different computation (a wrong formula) shows from step 2 on.
struct TwinRunComparison {
    std::string run;
    double first_loss_difference = NAN;   // |bnlab - pytorch| / |pytorch| at step 1
    double second_loss_difference = NAN;  // the same at step 2, after one update of every weight
    int64_t rounding_until = 0;          // the leading steps whose losses agree to 1e-5 relative
    int64_t separation = -1;             // the first step whose losses differ by > 1%; -1: never
    // The validation loss of the first evaluation (eval mode: BatchNorm's running statistics),
    // relative difference; NaN when there is none or the training losses had parted by then.
    double first_evaluation_difference = NAN;
    double validation_difference = NAN;  // bnlab - pytorch final validation accuracy (points)
};

struct TwinComparison {
    std::vector<TwinRow> rows;
    std::vector<TwinRunComparison> runs;  // in the protocol's order
    const TwinRunComparison* worst_first_step() const;
    const TwinRunComparison* worst_second_step() const;
};

// Error naming the run when a framework's file lacks a run of the protocol.
TwinComparison compare_twins(const TwinProtocol& protocol, const TwinResults& bnlab, const TwinResults& pytorch);

// The rows of one claim for one framework's results (compare_twins pairs them up).
std::vector<TwinOutcome> convergence_outcomes(const TwinProtocol& protocol, const TwinResults& results);
std::vector<TwinOutcome> learning_rate_outcomes(const TwinProtocol& protocol, const TwinResults& results);
std::vector<TwinOutcome> batch_size_outcomes(const TwinProtocol& protocol, const TwinResults& results);

// results/claims/twins.md: the tables, the first-step check, the explanation of every
// disagreement, how the protocol was run and how long it took.
// `report_command`: the command that wrote it (quoted with the other two steps').
std::string twin_report_markdown(const TwinProtocol& protocol, const TwinResults& bnlab, const TwinResults& pytorch,
                                 const TwinComparison& comparison, const std::string& report_command);

// Everything `bnlab claims twin-report` does: reads DIR/protocol.json, bnlab.json and
// pytorch.json, writes the markdown to `out` (atomically) and returns the comparison.
TwinComparison write_twin_report(const std::string& dir, const std::string& out, const std::string& command);

}  // namespace bnlab::claims
