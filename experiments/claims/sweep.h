// Sweeps: training one arm (e.g. "bn") at each point of a grid (learning rates, weight scales)
// for several paired seeds, on a claim's data (data.h). Each run is measured at its end on the validation split (which
// decides) and on the test set (the final numbers). Divergence is recorded, never dropped.
// Per grid point, the seeds are summarized as mean and min..max; a band is the contiguous
// stretch of grid points around the best one whose mean stays within a tolerance of it.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "experiments/claims/claim.h"
#include "experiments/claims/data.h"
#include "experiments/claims/report.h"
#include "experiments/plot.h"

namespace bnlab::claims {

// 1, 3, 10, 30, ... times powers of ten from `first` to `last` (inclusive, both on that grid):
// half-decade steps (x3 then x3.33), e.g. 1e-3, 3e-3, 0.01, ..., 3, 10.
std::vector<double> half_decade_grid(double first, double last);
// numpy.logspace(from, to, points): 10^from .. 10^to, evenly spaced in the exponent.
std::vector<double> logspace(double from_exponent, double to_exponent, int points);

// The protocol's divergence by loss: after `after_steps` steps, the training loss (the mean
// over the last `window` steps, so that one noisy batch does not count) exceeds the initial
// loss (the loss of step 1, before any update). NaN and infinite losses the Trainer catches.
struct DivergenceRule {
    int64_t after_steps = 200;
    int window = 20;
};

// Watches a run's training loss step by step. Keeps the loss curve (one point per
// `curve_every` steps: their mean loss, as MetricsRow{step, train_loss}) and, with a rule,
// declares the run diverged; the run then stops at its next evaluation (the Trainer asks
// stop_requested() after rows).
class LossWatch : public TrainObserver {
public:
    explicit LossWatch(std::optional<DivergenceRule> rule = std::nullopt, int curve_every = 20)
        : rule_(rule), curve_every_(curve_every) {}
    void on_step(const StepProgress& p) override;
    bool stop_requested() const override { return diverged_at_.has_value(); }
    std::optional<int64_t> diverged_at() const { return diverged_at_; }
    double initial_loss() const { return initial_loss_; }
    const std::vector<MetricsRow>& curve() const { return curve_; }

private:
    std::optional<DivergenceRule> rule_;
    int curve_every_;
    double initial_loss_ = NAN;
    std::deque<double> recent_;  // the last rule_->window losses
    double curve_sum_ = 0;       // losses since the last curve point
    int curve_count_ = 0;
    std::vector<MetricsRow> curve_;
    std::optional<int64_t> diverged_at_;
};

// One finished run of a sweep.
struct SweepRun {
    std::string name;
    bool diverged = false;
    std::string divergence;              // why ("NaN loss at step 812", ...); "" if it did not
    double validation_accuracy = NAN;    // at the end; NaN if diverged
    double test_accuracy = NAN;          // at the end; NaN if diverged
    double last_evaluated = NAN;         // validation accuracy at the last evaluation, diverged or not
    std::vector<MetricsRow> rows;        // the validation curve
    std::vector<MetricsRow> loss_curve;  // training loss, mean over every 20 steps (fewer in short runs)
};

// Trains `config` on data.train (rows evaluated on data.validation, which decides), then
// measures data.test (the final numbers). With a divergence rule, a run whose loss climbs above
// its initial loss is stopped and counted as diverged, like a NaN loss.
// The outcome is recorded in the run's folder (sweep.json); with ClaimOptions::reuse_finished_runs
// a run that finished with the same settings is read back from it, not trained again.
SweepRun train_and_test(ClaimContext& ctx, const std::string& run_name, const TrainConfig& config,
                        const ClaimData& data, std::optional<DivergenceRule> divergence = std::nullopt);

// train_and_test for each job, spread over the ranks of a claim run (ClaimContext::spread);
// the runs in the order of `jobs`.
struct SweepJob {
    std::string name;
    TrainConfig config;
};
std::vector<SweepRun> train_and_test_all(ClaimContext& ctx, const std::vector<SweepJob>& jobs, const ClaimData& data,
                                         std::optional<DivergenceRule> divergence = std::nullopt);

// A learning-rate sweep on seed 0 (the rates spread over the ranks of a claim run): trains config_at(lr) for each lr of `grid` on data.train,
// evaluated on data.validation; adds a row (label, lr, final validation accuracy or
// "diverged") to `table` per run and returns the lr with the best validation accuracy.
double best_lr_on_validation(ClaimContext& ctx, const std::string& label, const std::vector<double>& grid,
                             const std::function<TrainConfig(double lr)>& config_at, const ClaimData& data,
                             Table& table);

// A field of every run, e.g. values(runs, &SweepRun::test_accuracy) (NaN for diverged runs).
std::vector<double> values(std::span<const SweepRun> runs, double SweepRun::*field);
int diverged_count(std::span<const SweepRun> runs);

// The contiguous stretch of grid points around the best score whose scores are >= best -
// tolerance. scores: one per grid point; NaN marks a point that cannot be in a band (e.g. a
// learning rate at which a seed diverged). found is false when every score is NaN.
struct Band {
    bool found = false;
    size_t best = 0, first = 0, last = 0;  // grid indices, first <= best <= last
    double best_score = NAN;
    size_t points() const { return found ? last - first + 1 : 0; }
    // log10(xs[last] / xs[first]): the band's width in decades of a logarithmic grid.
    double decades(std::span<const double> xs) const;
};
Band band_around_best(std::span<const double> scores, double tolerance);

// One arm over a grid: runs[i][s] is seed s at grid point i.
struct GridSweep {
    std::string label;  // the arm, e.g. "bn"
    std::vector<std::vector<SweepRun>> runs;

    // Mean validation accuracy over seeds at each grid point. A diverged run makes the point
    // NaN, or counts as `diverged_as` if given (e.g. chance accuracy).
    std::vector<double> mean_validation(std::optional<double> diverged_as = std::nullopt) const;
    // Validation accuracy (mean, min..max over the seeds that did not diverge) over xs.
    Curve validation_curve(std::span<const double> xs) const;
    // Point i's validation accuracy in percent as "mean ± std [95% CI]" over the seeds that
    // did not diverge, "(k/n diverged)" if some did, "diverged" if all did; bold inside `band`.
    std::string validation_cell(size_t i, const Band& band) const;
    // Test accuracies (NaN for diverged runs) of the seeds at grid point i.
    std::vector<double> test_accuracies(size_t i) const { return values(runs[i], &SweepRun::test_accuracy); }
};

// The training loss curves (SweepRun::loss_curve) of `runs`: mean and min..max at each point.
Curve loss_curve(const std::string& label, std::span<const SweepRun> runs);
// Plots training-loss curves (one per arm, from loss_curve) as DIR/<claim>/plots/NAME.png and
// returns the markdown that shows them, with a caption that says how they were smoothed.
std::string loss_plot_markdown(const ClaimContext& ctx, const std::string& name, const std::string& title,
                               std::vector<Curve> curves, bool log_y);

// Plots the arms' validation accuracy over a logarithmic grid xs (GridSweep::validation_curve)
// as DIR/<claim>/plots/NAME.png and returns the markdown that shows it; a red cross at chance
// accuracy marks each grid point where a seed of an arm diverged.
std::string validation_plot_markdown(const ClaimContext& ctx, const std::string& name, const std::string& title,
                                     const std::string& x_label, std::span<const double> xs,
                                     std::initializer_list<const GridSweep*> arms, const std::string& key,
                                     const std::string& caption);

// "0.001", "0.3", "0.0562", "1e-05": a grid value as a short label (3 significant digits).
std::string grid_label(double x);

}  // namespace bnlab::claims
