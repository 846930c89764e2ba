#include "experiments/stats.h"

#include <algorithm>
#include <cmath>

namespace bnlab {

double mean_of(std::span<const double> v) {
    if (v.empty()) return NAN;
    double total = 0;
    for (double x : v) total += x;
    return total / static_cast<double>(v.size());
}

double sample_std(std::span<const double> v) {
    if (v.empty()) return NAN;
    if (v.size() == 1) return 0.0;
    const double m = mean_of(v);
    double sq = 0;
    for (double x : v) sq += (x - m) * (x - m);
    return std::sqrt(sq / static_cast<double>(v.size() - 1));
}

double median_of(std::vector<double> v) {
    if (v.empty()) return NAN;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::optional<int64_t> steps_to_target(std::span<const MetricsRow> rows, double target) {
    for (const MetricsRow& r : rows)
        if (r.test_accuracy >= target) return r.step;
    return std::nullopt;
}

}  // namespace bnlab
