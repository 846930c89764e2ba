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

}  // namespace bnlab::claims
