// The claims framework: statistics against hand-computed values, verdict rules on synthetic
// results (they must be able to say "refuted"), and each claim's quick profile end to end.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "experiments/claims/claims.h"
#include "experiments/claims/markdown.h"
#include "experiments/stats.h"
#include "tests/claims_test_util.h"
#include "tests/synthetic_data.h"

using namespace bnlab;
using namespace bnlab::claims;
using bnlab::test::check_quick_run;

TEST_CASE("mean, sample std and median on fixed inputs", "[claims][stats]") {
    const std::vector<double> v{2, 4, 4, 4, 5, 5, 7, 9};
    CHECK(mean_of(v) == 5.0);
    CHECK(sample_std(v) == Approx(std::sqrt(32.0 / 7.0)));
    CHECK(median_of(v) == 4.5);
    CHECK(median_of({3, 1, 2}) == 2.0);
    CHECK(std::isnan(mean_of({})));
    CHECK(sample_std(std::vector<double>{1.5}) == 0.0);
    CHECK(median_of({1, INFINITY, INFINITY}) == INFINITY);  // censored runs count as never
}

TEST_CASE("bootstrap intervals match hand-computed resampling distributions", "[claims][stats]") {
    // {0, 1}: resampled means are 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4 -> 95% interval [0, 1].
    const std::vector<double> two{0, 1};
    const Interval a = bootstrap_mean_ci(two);
    CHECK(a.low == 0.0);
    CHECK(a.high == 1.0);
    // {0,0,0,1}: the number of 1s drawn is Binomial(4, 1/4): P(<=2) = 0.949, P(<=3) = 0.996,
    // so the 97.5% quantile of the mean is 3/4 and the 2.5% quantile is 0.
    const std::vector<double> four{0, 0, 0, 1};
    const Interval b = bootstrap_mean_ci(four);
    CHECK(b.low == 0.0);
    CHECK(b.high == 0.75);
    // A constant sample has a zero-width interval; one value is its own interval.
    const std::vector<double> same{3, 3, 3};
    CHECK(bootstrap_mean_ci(same).low == 3.0);
    CHECK(bootstrap_mean_ci(same).high == 3.0);
    // Reproducible (seeded), and it covers the sample mean.
    const std::vector<double> noisy{1.2, 0.7, 1.9, 1.1, 0.4, 1.6};
    CHECK(bootstrap_mean_ci(noisy).low == bootstrap_mean_ci(noisy).low);
    CHECK(bootstrap_mean_ci(noisy).contains(mean_of(noisy)));
}

TEST_CASE("steps to target: smoothing over 3 evaluations and censoring", "[claims][stats]") {
    std::vector<MetricsRow> rows;
    for (auto [step, acc] : std::vector<std::pair<int64_t, double>>{{100, 0.5}, {200, 0.9}, {300, 0.7}, {400, 0.88}, {500, 0.9}}) {
        MetricsRow r;
        r.step = step;
        r.test_accuracy = acc;
        rows.push_back(r);
    }
    CHECK(steps_to_target(rows, 0.85) == 200);  // one lucky evaluation
    CHECK(smoothed_steps_to_target(rows, 0.85) == std::nullopt);  // windows: .5 .7 .7 .827 .827
    CHECK(smoothed_steps_to_target(rows, 0.8) == 400);             // (0.9 + 0.7 + 0.88) / 3 = 0.827
    CHECK(censored_ratio(300, 100) == 3.0);
    CHECK(censored_ratio(std::nullopt, 100) == INFINITY);
    CHECK(censored_ratio(100, std::nullopt) == 0.0);
    CHECK(censored_ratio(std::nullopt, std::nullopt) == 1.0);
    CHECK(best_smoothed_accuracy(rows) == Approx((0.7 + 0.88 + 0.9) / 3));
}

TEST_CASE("convergence: a target no arm reached drops to 1 point below the weaker arm's best", "[claims][verdict]") {
    CHECK(reachable_target(0.88, 0.89, 0.85) == 0.88);  // one arm reached it: censoring handles the other
    CHECK(reachable_target(0.88, 0.8706, 0.874) == Approx(0.8606));
    CHECK(reachable_target(0.88, 0.874, 0.8706) == Approx(0.8606));
}

TEST_CASE("the convergence verdict can say refuted, depends and confirmed", "[claims][verdict]") {
    // Arms that do not differ: ratios around 1.
    const std::vector<double> same{1.0, 0.9, 1.1, 1.0, 1.05};
    CHECK(convergence_verdict(speed_up(same), speed_up(same)) == "refuted");
    const std::vector<double> fast{2.5, 3.0, 2.2, 4.0, 2.8};
    CHECK(convergence_verdict(speed_up(fast), speed_up(fast)) == "confirmed");
    CHECK(convergence_verdict(speed_up(fast), speed_up(same)) == "depends");  // only at an untuned LR
    // A big median with an interval reaching 1 is not enough.
    const std::vector<double> wild{0.5, 3.0, 0.8, 4.0, 2.5};
    CHECK(convergence_verdict(speed_up(same), speed_up(wild)) != "confirmed");
}

TEST_CASE("the inference verdict can say refuted, depends and confirmed", "[claims][verdict]") {
    CHECK(inference_verdict({0.0, 30, 40, 35, 0.5}).first == "confirmed");
    CHECK(inference_verdict({0.0, 1, 2, 0.5, 0.5}).first == "refuted");   // nothing collapses
    CHECK(inference_verdict({0.8, 30, 40, 35, 0.5}).first == "refuted");  // eval mode depends on the batch
    const auto partial = inference_verdict({0.0, 30, 2, 35, -0.4});
    CHECK(partial.first == "depends");
    CHECK_THAT(partial.second, Catch::Contains("class-sorted") && Catch::Contains("PreciseBN"));
}

TEST_CASE("markdown tables and mean/std/CI cells", "[claims]") {
    const Table t{{"a", "b"}, {{"1", "2"}}};
    CHECK(t.markdown() == "| a | b |\n|---|---|\n| 1 | 2 |\n\n");
    const std::vector<double> v{0.8, 0.9};
    CHECK_THAT(mean_std_ci(v, 100, 1), Catch::StartsWith("85.0 ± 7.1 ["));
    CHECK(number(INFINITY) == "never");
}

TEST_CASE("claim convergence: the quick profile writes a report with a verdict", "[claims][quick]") {
    bnlab::test::check_quick_run("convergence");
}

TEST_CASE("claim inference: the quick profile writes a report with a verdict", "[claims][quick]") {
    bnlab::test::check_quick_run("inference");
}

TEST_CASE("a claim's run stops when its observer asks (early stop at a target, divergence)", "[claims]") {
    bnlab::test::TempDir dir;
    ClaimOptions options;
    options.out_dir = dir.path().string();
    options.threads = 1;
    ClaimContext ctx(options, "stop");
    const Dataset train = bnlab::test::quadrants(512, 1), eval = bnlab::test::quadrants(128, 2);
    struct StopAfterTwoRows : TrainObserver {
        void on_row(const MetricsRow&) override { ++rows; }
        bool stop_requested() const override { return rows >= 2; }
        int rows = 0;
    } stop;
    const TrainConfig config = bnlab::test::small_config("mlp", "bn");  // 2 epochs of 16 steps, rows every 8
    const TrainedRun run = ctx.train("run", config, train, eval, &stop);
    CHECK(run.result.steps == 16);
    CHECK(run.rows.size() == 2);
    CHECK(ctx.train("full", config, train, eval).result.steps == 32);
}

TEST_CASE("bnlab claims: list, index from the summaries, and usage errors", "[claims][cli]") {
    using bnlab::test::run_bnlab;
    const auto list = run_bnlab("claims list");
    CHECK(list.exit_code == 0);
    for (const Claim& c : all_claims()) CHECK_THAT(list.output, Catch::Contains(c.name));

    bnlab::test::TempDir dir;
    const auto summary = [&](const std::string& name, const std::string& verdict, double seconds) {
        std::filesystem::create_directories(dir.path() / name);
        std::ofstream(dir.path() / name / "summary.json")
            << fmt::format(R"({{"name": "{}", "verdict": "{}", "key_result": "k", "profile": "default", )"
                           R"("wall_seconds": {}, "threads": 1}})",
                           name, verdict, seconds);
    };
    summary("convergence", "refuted", 600);
    summary("inference", "confirmed", 300);
    const auto index = run_bnlab("claims index --out '" + dir.path().string() + "'");
    REQUIRE(index.exit_code == 0);
    const std::string text = bnlab::test::read_text(dir.path() / "index.md");
    CHECK_THAT(text, Catch::Contains("(convergence/report.md) |") && Catch::Contains("| **refuted** |") &&
                         Catch::Contains("| **confirmed** |") && Catch::Contains("15.0 min on 1 thread (the sum"));
    CHECK_THAT(text, !Catch::Contains("learning-rate/report.md"));  // not run, not listed

    // A corrupt summary, or one with a field of the wrong type, is an error naming the file.
    std::ofstream(dir.path() / "inference" / "summary.json") << R"({"verdict": "confirmed", "wall_seconds": "ten"})";
    const auto wrong_type = run_bnlab("claims index --out '" + dir.path().string() + "'");
    CHECK(wrong_type.exit_code == 1);
    CHECK_THAT(wrong_type.output, Catch::Contains("inference/summary.json"));
    std::ofstream(dir.path() / "inference" / "summary.json") << "{\"verdict\": ";
    const auto truncated = run_bnlab("claims index --out '" + dir.path().string() + "'");
    CHECK(truncated.exit_code == 1);
    CHECK_THAT(truncated.output, Catch::Contains("inference/summary.json"));

    CHECK(run_bnlab("claims run nonsense").exit_code == 2);
    CHECK(run_bnlab("claims run convergence --seeds -1").exit_code == 2);
    CHECK(run_bnlab("claims index --out /nonexistent/dir").exit_code == 2);
    CHECK(run_bnlab("claims").exit_code == 2);
}
