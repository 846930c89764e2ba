// Markdown pieces for claim reports: tables and "mean ± std [95% CI]" cells.
#pragma once

#include <span>
#include <string>
#include <vector>

namespace bnlab::claims {

struct Table {
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;
    std::string markdown() const;  // a GitHub-style pipe table, ending with a blank line
};

// "87.12 ± 0.41 [86.70, 87.55]": mean ± sample std and the 95% bootstrap CI of the mean,
// scaled by `scale` (100 for percentages) with `digits` decimals. "n/a" for no values.
std::string mean_std_ci(std::span<const double> values, double scale = 1.0, int digits = 2);
// "87.12 ± 0.41" (no interval).
std::string mean_std(std::span<const double> values, double scale = 1.0, int digits = 2);
// A number, or "n/a" for NaN, "never" for +inf.
std::string number(double v, int digits = 2);

}  // namespace bnlab::claims
