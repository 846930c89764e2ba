// Small statistics for comparing runs over seeds.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "train/metrics.h"

namespace bnlab {

double mean_of(std::span<const double> v);         // NaN for no values
double sample_std(std::span<const double> v);      // with n-1; 0 for one value, NaN for none
double median_of(std::vector<double> v);           // NaN for no values

struct Interval {
    double low = NAN, high = NAN;
    bool contains(double x) const { return low <= x && x <= high; }
};

// Percentile bootstrap confidence interval of statistic(sample): `resamples` samples of the
// same size drawn with replacement (seeded, so reports are reproducible); the interval runs
// from the (1-level)/2 to the (1+level)/2 quantile of the resampled statistics. With paired
// seeds, pass the per-seed differences (or ratios) to get an interval for the effect.
Interval bootstrap_ci(std::span<const double> values, const std::function<double(std::span<const double>)>& statistic,
                      double level = 0.95, int resamples = 4000, uint64_t seed = 12345);
Interval bootstrap_mean_ci(std::span<const double> values, double level = 0.95);
Interval bootstrap_median_ci(std::span<const double> values, double level = 0.95);

// The first evaluated step at which test accuracy >= target; nullopt when the run never
// got there (a censored run: it must be counted, not dropped).
std::optional<int64_t> steps_to_target(std::span<const MetricsRow> rows, double target);
// The same on the accuracy averaged over the last `window` evaluations (fewer at the start),
// so one lucky evaluation does not count as reaching the target.
std::optional<int64_t> smoothed_steps_to_target(std::span<const MetricsRow> rows, double target, int window = 3);
// The highest accuracy that smoothed curve reaches (-inf for no finite evaluation).
double best_smoothed_accuracy(std::span<const MetricsRow> rows, int window = 3);

}  // namespace bnlab
