// Helpers for the claims tests: run a claim's quick profile and check its report.
#pragma once

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "experiments/claims/claim.h"
#include "tests/test_util.h"

namespace bnlab::test {

// The project's shared real data (CIFAR-10, MNIST): $BNLAB_SHARED_DATA, else ../shared/data
// beside the source tree.
inline std::filesystem::path shared_data_dir() {
    if (const char* env = std::getenv("BNLAB_SHARED_DATA"); env != nullptr && *env != '\0') return env;
    return std::filesystem::path(BNLAB_SOURCE_DIR) / ".." / "shared" / "data";
}

struct QuickRun {
    claims::ClaimOutcome outcome;
    std::string report;               // report.md
    std::filesystem::path claim_dir;  // DIR/<claim>, removed with `dir`
};

// Runs a claim's quick profile (with `options`' data set and data folder) into `dir` and checks
// the report: the verdict line, a results table, summary.json, and the index row.
inline QuickRun check_quick_run(const std::string& name, const TempDir& dir, claims::ClaimOptions options = {}) {
    options.quick = true;
    options.out_dir = (dir / "claims").string();
    const claims::Claim* claim = claims::find_claim(name);
    REQUIRE(claim != nullptr);
    QuickRun run{claims::run_claim(*claim, options), "", dir / "claims" / name};
    std::ifstream in(run.outcome.report_path);
    run.report.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    std::smatch m;
    REQUIRE(std::regex_search(run.report, m, std::regex(R"(\*\*Verdict: (confirmed|refuted|depends)\*\*: (.+))")));
    CHECK(m[1] == run.outcome.verdict);
    CHECK(std::regex_search(run.report, std::regex(R"(\n\|[^\n]+\|\n\|(---\|)+\n\|[^\n]+\|\n)")));  // a table with rows
    CHECK_THAT(run.report, Catch::Contains("## What was run") && Catch::Contains("profile: quick"));
    CHECK(std::filesystem::exists(run.claim_dir / "summary.json"));
    const std::string index_path = claims::write_index(options.out_dir);
    std::ifstream index_file(index_path);
    const std::string index((std::istreambuf_iterator<char>(index_file)), std::istreambuf_iterator<char>());
    CHECK_THAT(index, Catch::Contains("(" + name + "/report.md)") && Catch::Contains("**" + run.outcome.verdict + "**"));
    return run;
}

// As above, in a temporary folder of its own.
inline void check_quick_run(const std::string& name) {
    TempDir dir;
    check_quick_run(name, dir);
}

}  // namespace bnlab::test
