#include "experiments/stats.h"

#include <algorithm>
#include <cmath>

#include "core/random.h"

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

Interval bootstrap_ci(std::span<const double> values, const std::function<double(std::span<const double>)>& statistic,
                      double level, int resamples, uint64_t seed) {
    if (values.empty()) return {};
    Generator gen(seed);
    std::vector<double> stats(static_cast<size_t>(resamples)), sample(values.size());
    for (double& stat : stats) {
        for (double& x : sample) x = values[gen.below(values.size())];
        stat = statistic(sample);
    }
    std::sort(stats.begin(), stats.end());
    // Nearest-rank quantiles of the bootstrap distribution.
    const auto quantile = [&](double q) {
        const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(stats.size())));
        return stats[std::min(std::max<size_t>(rank, 1), stats.size()) - 1];
    };
    return {quantile((1 - level) / 2), quantile((1 + level) / 2)};
}

Interval bootstrap_mean_ci(std::span<const double> values, double level) {
    return bootstrap_ci(values, [](std::span<const double> v) { return mean_of(v); }, level);
}

Interval bootstrap_median_ci(std::span<const double> values, double level) {
    return bootstrap_ci(values, [](std::span<const double> v) { return median_of({v.begin(), v.end()}); }, level);
}

std::optional<int64_t> steps_to_target(std::span<const MetricsRow> rows, double target) {
    for (const MetricsRow& r : rows)
        if (r.test_accuracy >= target) return r.step;
    return std::nullopt;
}

}  // namespace bnlab

namespace bnlab {

namespace {
// Accuracy averaged over evaluations first..i (at most `window` of them) for each i.
std::vector<double> smoothed_accuracy(std::span<const MetricsRow> rows, int window) {
    std::vector<double> smoothed;
    for (size_t i = 0; i < rows.size(); ++i) {
        const size_t first = i + 1 >= static_cast<size_t>(window) ? i + 1 - static_cast<size_t>(window) : 0;
        double total = 0;
        for (size_t j = first; j <= i; ++j) total += rows[j].test_accuracy;
        smoothed.push_back(total / static_cast<double>(i + 1 - first));
    }
    return smoothed;
}
}  // namespace

std::optional<int64_t> smoothed_steps_to_target(std::span<const MetricsRow> rows, double target, int window) {
    const std::vector<double> smoothed = smoothed_accuracy(rows, window);
    for (size_t i = 0; i < rows.size(); ++i)
        if (smoothed[i] >= target) return rows[i].step;
    return std::nullopt;
}

double best_smoothed_accuracy(std::span<const MetricsRow> rows, int window) {
    double best = -INFINITY;
    for (double a : smoothed_accuracy(rows, window))
        if (std::isfinite(a)) best = std::max(best, a);
    return best;
}

}  // namespace bnlab
