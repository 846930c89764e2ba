// Statistics over paired seeds: seed s gives every arm the same initial weights and batch
// order, so arms are compared seed by seed (a difference or a ratio per seed), then summarized
// with a 95% percentile-bootstrap interval (experiments/stats.h).
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <span>
#include <vector>

#include "experiments/plot.h"
#include "experiments/stats.h"

namespace bnlab::claims {

// Per-seed a[i] - b[i].
std::vector<double> differences(std::span<const double> a, std::span<const double> b);

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

// Per-seed ratio steps(baseline)/steps(treatment) with censoring: a run that never reached
// the target counts as +inf steps (so never/never is 1, never/x is +inf, x/never is 0).
double censored_ratio(std::optional<int64_t> baseline, std::optional<int64_t> treatment);

// A speed-up over paired seeds: the median of the per-seed ratios and its 95% bootstrap interval.
struct SpeedUp {
    double median = NAN;
    Interval ci;
};
SpeedUp speed_up(std::span<const double> per_seed_ratios);

// An effect along a regime axis, its band the 95% bootstrap CI (not the seeds' range): at each
// x[i], the paired effect (mean) or the speed-up (median) of per_point[i]'s per-seed values.
// Non-finite values are left out; a point with none is left out of the curve.
Curve effect_curve(const std::string& label, std::span<const double> x, const std::vector<std::vector<double>>& per_point);
Curve speed_up_curve(const std::string& label, std::span<const double> x, const std::vector<std::vector<double>>& per_point);

}  // namespace bnlab::claims
