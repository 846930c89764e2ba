// The claims bnlab tests, one per file in experiments/claims/, and the verdict rules as plain
// functions of their numbers (so tests can feed them results and check what they decide).
// Per-seed effects and speed-ups (PairedEffect, SpeedUp) are in paired_seeds.h.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "experiments/claims/claim.h"
#include "experiments/claims/paired_seeds.h"
#include "experiments/stats.h"

namespace bnlab::claims {

Claim convergence_claim();
Claim inference_claim();
Claim regularization_claim();
Claim batch_size_claim();

// --- verdict rules ---------------------------------------------------------------------

// Steps-to-target speed-up of BN over no BN (paired_seeds.h: the median over paired seeds of
// steps(none)/steps(bn), and its 95% bootstrap interval). One model: confirmed if the tuned-LR speed-up is >= 2 with the CI above 1; "depends" if
// only the same-LR speed-up qualifies (BN helps at an untuned LR); refuted otherwise.
std::string convergence_verdict(const SpeedUp& same_lr, const SpeedUp& tuned_lr);
// The target a model's comparison measures steps to. The protocol's, unless no sweep run of
// either arm reached it (best_none, best_bn: each arm's best smoothed validation accuracy over
// its LR sweep); then 1 point below the weaker arm's best, so that the comparison measures
// something rather than "never" against "never".
double reachable_target(double protocol_target, double best_none, double best_bn);

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

// --- learning-rate, init-scale, placement (sweeps over a grid; see sweep.h) -----------------

Claim learning_rate_claim();
Claim init_scale_claim();
Claim placement_claim();

// One arm of the learning-rate sweep, in grid steps (the grid is 1e-3, 3e-3, ..., 10).
struct LearningRateArm {
    int largest_stable = -1;  // index of the largest LR at which no seed failed (diverged or ended at chance); -1: none
    int band_points = 0;      // LRs in the contiguous band within 1 point of the best validation accuracy
};
// Confirmed if BN's largest stable LR is at least one grid step above no-BN's AND BN's band
// holds more grid points; refuted if neither holds; "depends" if exactly one does.
std::string learning_rate_verdict(const LearningRateArm& none, const LearningRateArm& bn);

// One activation of the init-scale sweep (validation accuracy at each weight scale).
struct InitScaleFindings {
    double bn_decades = NAN;    // width in decades of BN's contiguous range within 2 points of its best
    double none_decades = NAN;  // the same for no BN
    bool none_chance_low_end = false;   // no BN at chance (<= 15%) at scale 1e-4 (the low end of CS231n's sweep)
    bool none_chance_high_end = false;  // ... and at scale 1 (its high end)
};
// Confirmed if BN stays within 2 points of its best over >= 3 decades AND no BN is at chance at
// both ends (1e-4 and 1); refuted if BN's range is not wider than no-BN's (BN is not less
// sensitive); "depends" otherwise (BN's range is wider, but short of 3 decades or no BN
// survives an end).
std::string init_scale_verdict(const InitScaleFindings& f);

// Test accuracy of Conv->BN->ReLU ("before") against Conv->ReLU->BN ("after"), paired by seed.
struct PlacementEffect {
    double difference = NAN;  // mean(before) - mean(after)
    double pooled_std = NAN;  // sqrt((std(before)^2 + std(after)^2) / 2), sample stds over seeds
    Interval ci;              // 95% bootstrap CI of the mean per-seed difference before - after
};
PlacementEffect placement_effect(std::span<const double> before, std::span<const double> after);
// An effect is reported only if |difference| > 2 pooled std: confirmed ("BN belongs before the
// activation") if before is better by more than that, refuted if after is, "depends" otherwise.
std::string placement_verdict(const PlacementEffect& e);

// --- gradients (claim 4) and covariate-shift (claim 9) -----------------------------------

Claim gradients_claim();
Claim covariate_shift_claim();

// A measure is clearly smaller with BN when, over paired seeds, the ratio none/bn has a mean of
// at least 1.5 and a 95% bootstrap CI above 1 (with 3 seeds: BN smaller in every seed).
bool clearly_smaller_with_bn(std::span<const double> none_over_bn);

// What the gradients experiment measured. Per paired seed, none's value / BN's value of each
// measure, each the median over the probes taken during training.
struct SmoothnessFindings {
    std::vector<double> loss_range;    // max - min of L(w - eta g) over the eta grid
    std::vector<double> grad_change;   // max over eta of ||grad L(w) - grad L(w - eta g)||
    std::vector<double> beta;          // the same divided by ||eta g||: effective beta-smoothness
    std::vector<double> layer_spread;  // max/min over layers of ||dL/dW_layer||
    // Yang et al.'s check: ||g|| of the first layer / ||g|| of the last hidden layer in a
    // 20-layer ReLU MLP at initialization (geometric mean over seeds).
    double deep_bn_first_over_last = NAN, deep_none_first_over_last = NAN;
};
// Confirmed if all four measures are clearly smaller with BN and the deep BN MLP's first-layer
// gradient is less than 10x its last hidden layer's; "depends" if all four are smaller but the
// deep BN MLP explodes at initialization (>= 10x, Yang et al. 2019), or only some measures are
// smaller; refuted if none is.
std::pair<std::string, std::string> gradients_verdict(const SmoothnessFindings& f);

// What the covariate-shift experiment measured (means over seeds).
struct CovariateShiftFindings {
    // Drift of the last hidden layer's sigmoid inputs: for a unit, the largest range over training
    // of its 15th/50th/85th percentile, divided by its final 15-85 spread; the median over units.
    double drift_none = NAN, drift_bn = NAN;
    double accuracy_bn = NAN, accuracy_noisy_bn = NAN;  // final test accuracy, %
    // Santurkar's ICS of the last hidden layer, ||G - G'|| / ||G||, median over training.
    double ics_none = NAN, ics_noisy_bn = NAN;
    double accuracy_none = NAN;  // reported, not part of the rule
};
// Ioffe's Fig. 1: BN is flat if its drift <= 0.5, the baseline drifts if its drift >= 1.
// Santurkar: supported if noisy BN's accuracy is within 1 point of BN's (or better) while its ICS
// is at least the baseline's. Refuted if BN drifts as much as the baseline or more; confirmed if
// BN is flat, the baseline drifts and Santurkar is not supported; "depends" otherwise: when
// Santurkar is supported (BN keeps the distributions steady, but steadiness is not why it
// trains well), or when BN is steadier without the thresholds being met.
std::pair<std::string, std::string> covariate_shift_verdict(const CovariateShiftFindings& f);

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
    // false: GN and LN were not run in this setting (ghost batches change only BN's statistics)
    // and the rule reads BN alone.
    bool norms_measured = true;
};
// BN fails at a batch if its error rises by more than 3 points with the 95% CI above 0; GN or
// LN holds at a batch if its error rises by at most 1 point (mean). Confirmed if BN fails at
// every small batch given and GN and LN hold at each; refuted if BN fails at none; "depends"
// otherwise, naming what failed.
std::pair<std::string, std::string> batch_size_verdict(std::span<const SmallBatchChange> changes);

}  // namespace bnlab::claims
