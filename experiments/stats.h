// Small statistics for comparing runs over seeds.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "experiments/trainer.h"

namespace bnlab {

double mean_of(std::span<const double> v);         // NaN for no values
double sample_std(std::span<const double> v);      // with n-1; 0 for one value, NaN for none
double median_of(std::vector<double> v);           // NaN for no values

// The first evaluated step at which test accuracy >= target; nullopt when the run never
// got there (a censored run: it must be counted, not dropped).
std::optional<int64_t> steps_to_target(std::span<const MetricsRow> rows, double target);

}  // namespace bnlab
