// A claim's quick profile, run end to end by the claims tests.
#pragma once

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "experiments/claims/claim.h"
#include "tests/test_util.h"

namespace bnlab::test {

inline std::string read_text(const fs::path& path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs a claim's quick profile (data sets searched first in `data_dir`, if given) and checks
// the report: the verdict line, a results table, summary.json, and the index row. Returns
// the report's text.
inline std::string check_quick_run(const std::string& name, const std::string& data_dir = "") {
    using namespace bnlab::claims;
    TempDir dir;
    ClaimOptions options;
    options.quick = true;
    options.data_dir = data_dir;
    options.out_dir = (dir / "claims").string();
    const Claim* claim = find_claim(name);
    REQUIRE(claim != nullptr);
    const ClaimOutcome outcome = run_claim(*claim, options);
    const std::string report = read_text(outcome.report_path);
    std::smatch m;
    REQUIRE(std::regex_search(report, m, std::regex(R"(\*\*Verdict: (confirmed|refuted|depends)\*\*: (.+))")));
    CHECK(m[1] == outcome.verdict);
    CHECK(std::regex_search(report, std::regex(R"(\n\|[^\n]+\|\n\|(---\|)+\n\|[^\n]+\|\n)")));  // a table with rows
    CHECK_THAT(report, Catch::Contains("## What was run") && Catch::Contains("profile: quick"));
    CHECK(fs::exists(dir / "claims" / name / "summary.json"));
    // Every plot the report shows was drawn.
    const std::regex image(R"(!\[[^\]]*\]\((plots/[^)]+\.png)\))");
    for (auto it = std::sregex_iterator(report.begin(), report.end(), image); it != std::sregex_iterator(); ++it)
        CHECK(fs::exists(dir / "claims" / name / (*it)[1].str()));
    const std::string index = read_text(write_index(options.out_dir));
    CHECK_THAT(index, Catch::Contains("(" + name + "/report.md)") && Catch::Contains("**" + outcome.verdict + "**"));
    return report;
}

}  // namespace bnlab::test
