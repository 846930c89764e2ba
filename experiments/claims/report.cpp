#include "experiments/claims/report.h"

#include <fmt/format.h>

#include <cmath>

#include "experiments/stats.h"

namespace bnlab::claims {

std::string Table::markdown() const {
    const auto row_text = [](const std::vector<std::string>& cells) {
        std::string line = "|";
        for (const auto& c : cells) line += " " + c + " |";
        return line + "\n";
    };
    std::string out = row_text(header) + "|";
    for (size_t i = 0; i < header.size(); ++i) out += "---|";
    out += "\n";
    for (const auto& r : rows) out += row_text(r);
    return out + "\n";
}

std::string number(double v, int digits) {
    if (std::isnan(v)) return "n/a";
    if (std::isinf(v)) return v > 0 ? "never" : "-inf";
    return fmt::format("{:.{}f}", v, digits);
}

std::string mean_std(std::span<const double> values, double scale, int digits) {
    if (values.empty()) return "n/a";
    return fmt::format("{} ± {}", number(scale * mean_of(values), digits), number(scale * sample_std(values), digits));
}

std::string mean_std_ci(std::span<const double> values, double scale, int digits) {
    if (values.empty()) return "n/a";
    const Interval ci = bootstrap_mean_ci(values);
    return fmt::format("{} [{}, {}]", mean_std(values, scale, digits), number(scale * ci.low, digits),
                       number(scale * ci.high, digits));
}

std::string significant(double v, int digits) { return std::isfinite(v) ? fmt::format("{:.{}g}", v, digits) : number(v); }

std::string mean_std_ci_significant(std::span<const double> values, int digits) {
    if (values.empty()) return "n/a";
    const Interval ci = bootstrap_mean_ci(values);
    return fmt::format("{} ± {} [{}, {}]", significant(mean_of(values), digits), significant(sample_std(values), digits),
                       significant(ci.low, digits), significant(ci.high, digits));
}

std::string figure(const std::string& claim_dir, const std::string& name, const PlotSpec& spec, const std::string& caption) {
    const std::string problem = plot_bands(claim_dir + "/plots", name, spec);
    if (!problem.empty()) return "(plot " + name + " not drawn: " + problem + ")\n\n";
    return fmt::format("![{}](plots/{}.png)\n\n", spec.title, name) + (caption.empty() ? "" : caption + "\n\n");
}

std::string effect_cell(const PairedEffect& effect, double scale, int digits) {
    const auto signed_number = [&](double v) { return fmt::format("{}{}", v > 0 ? "+" : "", number(scale * v, digits)); };
    return fmt::format("{} [{}, {}]", signed_number(effect.mean), signed_number(effect.ci.low),
                       signed_number(effect.ci.high));
}

}  // namespace bnlab::claims
