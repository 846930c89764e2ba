// A claim's quick profile, run end to end by the claims tests.
#pragma once

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <string>

#include "experiments/claims/claim.h"
#include "tests/data_test_util.h"
#include "tests/test_util.h"

namespace bnlab::test {

inline std::string read_text(const fs::path& path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct QuickRun {
    claims::ClaimOutcome outcome;
    std::string report;    // report.md
    fs::path claim_dir;    // DIR/<claim>, removed with the TempDir it was run in
};

// Runs a claim's quick profile into `dir` and checks the report: the verdict line, a results
// table, summary.json, every plot it shows, and the index row. Threads default to 1: on a
// shared 2-core machine OpenMP's barriers made quick runs 3-4x slower with two (learning-rate:
// 24 s against 85 s, measured), and the quick profiles gain nothing from a second thread.
inline QuickRun check_quick_run(const std::string& name, const TempDir& dir, claims::ClaimOptions options = {}) {
    options.quick = true;
    if (options.threads == 0) options.threads = 1;
    options.out_dir = (dir / "claims").string();
    const claims::Claim* claim = claims::find_claim(name);
    REQUIRE(claim != nullptr);
    QuickRun run{claims::run_claim(*claim, options), "", dir / "claims" / name};
    run.report = read_text(run.outcome.report_path);
    std::smatch m;
    REQUIRE(std::regex_search(run.report, m, std::regex(R"(\*\*Verdict: (confirmed|refuted|depends)\*\*: (.+))")));
    CHECK(m[1] == run.outcome.verdict);
    CHECK(std::regex_search(run.report, std::regex(R"(\n\|[^\n]+\|\n\|(---\|)+\n\|[^\n]+\|\n)")));  // a table with rows
    CHECK_THAT(run.report, Catch::Contains("## What was run") && Catch::Contains("profile: quick"));
    CHECK(fs::exists(run.claim_dir / "summary.json"));
    const std::regex image(R"(!\[[^\]]*\]\((plots/[^)]+\.png)\))");
    for (auto it = std::sregex_iterator(run.report.begin(), run.report.end(), image); it != std::sregex_iterator(); ++it)
        CHECK(fs::exists(run.claim_dir / (*it)[1].str()));
    const std::string index = read_text(claims::write_index(options.out_dir));
    CHECK_THAT(index, Catch::Contains("(" + name + "/report.md)") && Catch::Contains("**" + run.outcome.verdict + "**"));
    return run;
}

// As above in a folder of its own, data sets found through the standard search path; the report's text.
inline std::string check_quick_run(const std::string& name) {
    TempDir dir;
    return check_quick_run(name, dir).report;
}

// As above, on the project's shared real data (shared_data(): ../shared/data or
// $BNLAB_SHARED_DATA) passed as the data folder, or std::nullopt where `data_set_folder` is not
// there (a failure under CI, a warning elsewhere).
inline std::optional<QuickRun> check_quick_run_on_shared_data(const std::string& name, const std::string& data_set_folder,
                                                              const TempDir& dir) {
    if (!have(shared_data() / data_set_folder, "set BNLAB_SHARED_DATA")) return std::nullopt;
    claims::ClaimOptions options;
    options.data_dir = shared_data().string();
    return check_quick_run(name, dir, options);
}

// The same in a folder of its own: the report's text, or "" where the data set is not there.
inline std::string check_quick_run_on_shared_data(const std::string& name, const std::string& data_set_folder) {
    TempDir dir;
    const std::optional<QuickRun> run = check_quick_run_on_shared_data(name, data_set_folder, dir);
    return run ? run->report : "";
}

}  // namespace bnlab::test
