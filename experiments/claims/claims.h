// The claims bnlab tests, one per file in experiments/claims/, and the verdict rules as plain
// functions of their numbers (so tests can feed them results and check what they decide).
#pragma once

#include <optional>
#include <span>
#include <string>

#include "experiments/claims/claim.h"
#include "experiments/stats.h"

namespace bnlab::claims {

Claim convergence_claim();
Claim inference_claim();
Claim regularization_claim();
Claim batch_size_claim();

// --- verdict rules ---------------------------------------------------------------------

// Steps-to-target speed-up of BN over no BN: the median over paired seeds of
// steps(none)/steps(bn), and its 95% bootstrap interval.
struct SpeedUp {
    double median = NAN;
    Interval ci;
};
// One model: confirmed if the tuned-LR speed-up is >= 2 with the CI above 1; "depends" if
// only the same-LR speed-up qualifies (BN helps at an untuned LR); refuted otherwise.
std::string convergence_verdict(const SpeedUp& same_lr, const SpeedUp& tuned_lr);

// What the inference experiment measured (accuracy differences in points, means over seeds).
struct InferenceFindings {
    double eval_mode_range = NAN;   // max - min eval-mode accuracy over test batch sizes
    double small_batch_drop = NAN;  // eval mode minus batch statistics at the smallest batch
    double sorted_drop = NAN;       // eval mode minus batch statistics on class-sorted batches
    double reset_drop = NAN;        // eval mode minus never-updated running statistics (0/1)
    // PreciseBN minus EMA: the upper end of the 95% CI of the paired difference, the worse of
    // the two momenta (>= 0: PreciseBN is not shown to be worse than the EMA)
    double precise_minus_ema_upper = NAN;
};
// Confirmed if eval mode does not depend on the batch (range <= 0.1 points), every
// batch-statistics variant collapses (>= 10 points below eval mode) and PreciseBN is not
// worse than the EMA; refuted if eval mode depends on the batch or nothing collapses;
// "depends" otherwise (the reason names the parts that failed).
std::pair<std::string, std::string> inference_verdict(const InferenceFindings& f);

// Per-seed ratio steps(baseline)/steps(treatment) with censoring: a run that never reached
// the target counts as +inf steps (so never/never is 1, never/x is +inf, x/never is 0).
double censored_ratio(std::optional<int64_t> baseline, std::optional<int64_t> treatment);
SpeedUp speed_up(std::span<const double> per_seed_ratios);

// --- effects over paired seeds (regularization, batch-size) ----------------------------

// The mean over paired seeds of a per-seed effect (e.g. gap(none) - gap(bn), in points) and
// its 95% percentile-bootstrap interval; seeds where it could not be measured (NaN) are left
// out. With 3 seeds the interval is the range of the per-seed values, so an interval above 0
// means every seed agrees.
struct PairedEffect {
    double mean = NAN;
    Interval ci;
    bool clearly_positive() const { return ci.low > 0; }
};
PairedEffect paired_effect(std::span<const double> per_seed);

// --- regularization (claim 5) ----------------------------------------------------------

// One evaluation during training: accuracy in eval mode on training images and on test images.
struct FitPoint {
    double train_accuracy = NAN, test_accuracy = NAN;
};
// The train-test gap of a run at training accuracy `level`: `level` minus the test accuracy
// where the run's training accuracy first reaches `level` (linear between the two evaluations
// around that point). NaN when the run never reaches `level`.
double gap_at_training_accuracy(std::span<const FitPoint> curve, double level);
// The highest training accuracy every run reaches: the smallest of the runs' peaks.
double matched_training_accuracy(std::span<const std::vector<FitPoint>> runs);

struct RegularizationFindings {
    PairedEffect gap_none_minus_bn;  // gap at matched training accuracy: no norm minus BN (points)
    PairedEffect gap_gn_minus_bn;    // the same: GroupNorm minus BN
    // dropout's test-accuracy gain (dropout 0.5 minus 0) without a norm, minus the same with BN
    PairedEffect dropout_gain_none_minus_bn;
};
// Confirmed if all three effects are clearly positive (95% CI above 0); refuted if BN's gap is
// not clearly smaller than no-norm's (then BN is not shown to regularize at all); "depends"
// otherwise, naming the parts that failed.
std::pair<std::string, std::string> regularization_verdict(const RegularizationFindings& f);

// --- batch size (claim 6) --------------------------------------------------------------

// Test error at a small batch minus test error at batch 32, per arm, paired over seeds (points).
struct SmallBatchChange {
    int64_t batch = 0;
    PairedEffect bn, gn, ln;
};
// BN fails at a batch if its error rises by more than 3 points with the 95% CI above 0; GN or
// LN holds at a batch if its error rises by at most 1 point (mean). Confirmed if BN fails at
// every small batch given and GN and LN hold at each; refuted if BN fails at none; "depends"
// otherwise, naming what failed.
std::pair<std::string, std::string> batch_size_verdict(std::span<const SmallBatchChange> changes);

}  // namespace bnlab::claims
