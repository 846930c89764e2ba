#include "experiments/claims/paired_seeds.h"

#include <algorithm>
#include <cmath>

namespace bnlab::claims {

std::vector<double> differences(std::span<const double> a, std::span<const double> b) {
    std::vector<double> out;
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) out.push_back(a[i] - b[i]);
    return out;
}

PairedEffect paired_effect(std::span<const double> per_seed) {
    std::vector<double> measured;
    for (double v : per_seed)
        if (std::isfinite(v)) measured.push_back(v);
    return {mean_of(measured), bootstrap_mean_ci(measured)};
}

double censored_ratio(std::optional<int64_t> baseline, std::optional<int64_t> treatment) {
    const double b = baseline ? static_cast<double>(*baseline) : INFINITY;
    const double t = treatment ? static_cast<double>(*treatment) : INFINITY;
    if (std::isinf(b) && std::isinf(t)) return 1.0;
    return b / t;
}

SpeedUp speed_up(std::span<const double> per_seed_ratios) {
    return {median_of({per_seed_ratios.begin(), per_seed_ratios.end()}), bootstrap_median_ci(per_seed_ratios)};
}

Curve effect_curve(const std::string& label, std::span<const double> x, const std::vector<std::vector<double>>& per_point) {
    return summary_curve(label, x, per_point, [](std::span<const double> v) {
        const PairedEffect e = paired_effect(v);
        return PointSummary{e.mean, e.ci.low, e.ci.high};
    });
}

Curve speed_up_curve(const std::string& label, std::span<const double> x, const std::vector<std::vector<double>>& per_point) {
    return summary_curve(label, x, per_point, [](std::span<const double> v) {
        const SpeedUp s = speed_up(v);
        return PointSummary{s.median, s.ci.low, s.ci.high};
    });
}

}  // namespace bnlab::claims
