#include "experiments/claims/regime.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"

namespace bnlab::claims {

namespace {

// A contiguous stretch of points [first, last] with one verdict.
struct Stretch {
    size_t first, last;
    std::string verdict;
};

std::vector<Stretch> stretches(const RegimeSeries& s) {
    std::vector<Stretch> out;
    for (size_t i = 0; i < s.points.size(); ++i) {
        if (i > 0 && s.points[i].x <= s.points[i - 1].x)
            throw Error(fmt::format("regime series {}: {} values must increase", s.family, s.axis));
        if (!out.empty() && out.back().verdict == s.points[i].verdict)
            out.back().last = i;
        else
            out.push_back({i, i, s.points[i].verdict});
    }
    return out;
}

std::string x_text(double x) { return fmt::format("{:g}", x); }
std::string point_text(const RegimePoint& p) { return p.label.empty() ? x_text(p.x) : p.label; }

// "depth >= 8", "depth <= 4", "depth 4-8", "depth 8"; categorical: "activation relu, tanh"
std::string range_text(const RegimeSeries& s, const Stretch& r) {
    if (!s.points[r.first].label.empty()) {
        std::vector<std::string> names;
        for (size_t i = r.first; i <= r.last; ++i) names.push_back(s.points[i].label);
        return fmt::format("{} {}", s.axis, fmt::join(names, ", "));
    }
    const std::string lo = x_text(s.points[r.first].x), hi = x_text(s.points[r.last].x);
    const size_t n = s.points.size();
    if (n == 1) return fmt::format("{} {}", s.axis, lo);
    if (r.first == 0 && r.last + 1 == n) return fmt::format("every point tested ({} {}-{})", s.axis, lo, hi);
    if (r.first == 0) return fmt::format("{} <= {}", s.axis, hi);
    if (r.last + 1 == n) return fmt::format("{} >= {}", s.axis, lo);
    return r.first == r.last ? fmt::format("{} {}", s.axis, lo) : fmt::format("{} {}-{}", s.axis, lo, hi);
}

std::string effects_text(const RegimeSeries& s, const Stretch& r) {
    std::vector<std::string> parts;
    for (size_t i = r.first; i <= r.last; ++i)
        if (!s.points[i].effect.empty()) parts.push_back(fmt::format("{}: {}", point_text(s.points[i]), s.points[i].effect));
    return parts.empty() ? "" : fmt::format(" ({})", fmt::join(parts, "; "));
}

}  // namespace

std::string describe_series(const RegimeSeries& series) {
    if (series.points.empty()) return "not measured";
    std::vector<std::string> parts;
    for (const Stretch& r : stretches(series)) {
        const std::string range = range_text(series, r);
        const std::string joiner = range.starts_with("every") ? " at " : " for ";
        parts.push_back(r.verdict + joiner + range + (r.verdict == "confirmed" ? effects_text(series, r) : ""));
    }
    return fmt::format("{}", fmt::join(parts, ", "));
}

std::string where_it_holds(std::span<const RegimeSeries> series) {
    std::vector<std::string> parts;
    for (const RegimeSeries& s : series) {
        std::vector<std::string> ranges;
        for (const Stretch& r : stretches(s))
            if (r.verdict == "confirmed") ranges.push_back(range_text(s, r));
        if (ranges.empty()) continue;
        // A one-point series is a model, not an axis: its name says it all.
        parts.push_back(s.points.size() == 1 ? fmt::format("{} ({} {})", s.family, s.axis, point_text(s.points[0]))
                                             : fmt::format("{}: {}", s.family, fmt::join(ranges, ", ")));
    }
    return parts.empty() ? "at no point tested" : fmt::format("{}", fmt::join(parts, "; "));
}

std::string overall_verdict(std::span<const RegimeSeries> series) {
    bool all_confirmed = true, all_refuted = true, any = false;
    for (const RegimeSeries& s : series)
        for (const RegimePoint& p : s.points) {
            any = true;
            all_confirmed = all_confirmed && p.verdict == "confirmed";
            all_refuted = all_refuted && p.verdict == "refuted";
        }
    if (!any) throw Error("overall_verdict: no regime point was measured");
    return all_confirmed ? "confirmed" : all_refuted ? "refuted" : "depends";
}

}  // namespace bnlab::claims
