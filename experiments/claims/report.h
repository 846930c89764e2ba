// Writing a claim's results: markdown tables, cells ("mean ± std [95% CI]", paired effects,
// numbers) and figures. run_claim (claim.h) puts them into DIR/<claim>/report.md.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "experiments/claims/paired_seeds.h"
#include "experiments/plot.h"

namespace bnlab::claims {

struct Table {
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;
    std::string markdown() const;  // a GitHub-style pipe table, ending with a blank line
};

// "87.12 ± 0.41 [86.70, 87.55]": mean ± sample std and the 95% bootstrap CI of the mean,
// scaled by `scale` (100 for percentages) with `digits` decimals. "n/a" for no values.
std::string mean_std_ci(std::span<const double> values, double scale = 1.0, int digits = 2);
// The same with `digits` significant digits ("1.23e-05 ± 4.1e-06 [...]"), for values that
// span decades, such as gradient norms.
std::string mean_std_ci_significant(std::span<const double> values, int digits = 3);
// "87.12 ± 0.41" (no interval).
std::string mean_std(std::span<const double> values, double scale = 1.0, int digits = 2);
// Draws DIR/plots/NAME.png (plot_bands) and returns its markdown for a report in DIR: the image
// and the caption, or why the plot could not be drawn.
std::string figure(const std::string& claim_dir, const std::string& name, const PlotSpec& spec,
                   const std::string& caption = "");

// "+1.23 [0.50, 2.10]": a paired effect's mean and 95% CI, times `scale`, with a sign.
std::string effect_cell(const PairedEffect& effect, double scale = 1.0, int digits = 2);
// A number with `digits` significant digits ("230", "4.12e-06"), or what number() writes for NaN/inf.
std::string significant(double v, int digits = 3);
// A number, or "n/a" for NaN, "never" for +inf.
std::string number(double v, int digits = 2);

}  // namespace bnlab::claims
