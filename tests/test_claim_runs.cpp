// Running a claim: its context (training runs that stop when asked), its data (found through
// the search path every command uses), the config builder, the report's markdown, and the
// `bnlab claims` command.
#include <array>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include <fmt/format.h>

#include "experiments/claims/claims.h"
#include "experiments/claims/data.h"
#include "experiments/claims/report.h"
#include "experiments/claims/run_config.h"
#include "tests/claims_test_util.h"
#include "tests/data_test_util.h"
#include "tests/synthetic_data.h"
#include "tests/thread_collective.h"

using namespace bnlab;
using namespace bnlab::claims;

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


TEST_CASE("spread over ranks: first come, first served, every result on every rank, no job files left", "[claims]") {
    bnlab::test::TempDir dir;
    constexpr size_t n = 8;
    std::array<std::atomic<int>, n> times_run{};
    std::atomic<size_t> short_jobs_done{0};
    std::array<std::vector<nlohmann::json>, 2> results, second_call;
    bnlab::testing::run_ranks(2, [&](Collective& group) {
        ClaimOptions options;
        options.out_dir = dir.path().string();
        options.group = &group;
        ClaimContext ctx(options, "spread");
        // Job 0 is long: it ends once jobs 1..7 are done, which the other rank does meanwhile.
        // (Handed out by i % 2, its rank would have to run jobs 2, 4 and 6 itself: it would wait
        // out the deadline.)
        results[static_cast<size_t>(group.rank())] = ctx.spread(n, [&](size_t i) {
            ++times_run[i];
            if (i > 0) {
                ++short_jobs_done;
                return nlohmann::json(10 * i);
            }
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
            while (short_jobs_done < n - 1 && std::chrono::steady_clock::now() < deadline)
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            return nlohmann::json(short_jobs_done.load());
        });
        // A second call takes its jobs afresh (the first call's files do not block them).
        second_call[static_cast<size_t>(group.rank())] = ctx.spread(3, [](size_t i) { return nlohmann::json(i); });
    });
    CHECK(results[0] == results[1]);
    CHECK(results[0].at(0) == n - 1);  // job 0 ended after the others, not at its deadline
    for (size_t i = 1; i < n; ++i) CHECK(results[0].at(i) == 10 * i);
    for (size_t i = 0; i < n; ++i) CHECK(times_run[i] == 1);
    CHECK(second_call[0] == std::vector<nlohmann::json>{0, 1, 2});
    CHECK(second_call[1] == second_call[0]);
    for (const auto& entry : std::filesystem::directory_iterator(dir.path() / "spread"))
        CHECK_FALSE(entry.path().filename().string().starts_with("spread-"));  // the job files are removed
}

TEST_CASE("claim data: found through the data folder, a validation tail held out, trimmed to the profile", "[claims]") {
    test::TempDir dir;
    test::write_tiny_mnist(dir.path() / "data", 1200, 50);
    ClaimOptions options;
    options.out_dir = (dir.path() / "claims").string();
    options.data_dir = (dir.path() / "data").string();  // what --data-dir gives; then $BNLAB_DATA, the standard folders
    options.dataset = "mnist";                           // instead of the claim's default
    const ClaimContext ctx(options, "data");

    const ClaimData data = load_claim_data(ctx, "fashion-mnist", {.train_images = 500, .validation_images = 200, .test_images = 30});
    CHECK(data.dataset == "mnist");
    CHECK(std::filesystem::equivalent(data.folder, dir.path() / "data" / "mnist"));
    CHECK(data.full_train_size == 1200);
    CHECK(data.train.size() == 500);
    CHECK_THAT(data.train.name, Catch::EndsWith("[:500]"));  // the run configs' data set
    CHECK(data.validation.size() == 200);  // the last 200 training images: 1000, 1001, ...
    CHECK(data.validation.labels.front() == 1000 % 10);
    CHECK(data.validation.labels.back() == 1199 % 10);
    CHECK(data.test.size() == 30);
    CHECK_THAT(data.description(), Catch::Contains("the first 500 of its 1200 training images") &&
                                       Catch::Contains("the last 200") && Catch::Contains("test = 30 test images"));
    CHECK_THAT(data.held_out_description("choose"), Catch::StartsWith("mnist: 500 training images, 200 validation images") &&
                                                        Catch::Contains(") choose; 30 test images"));

    // Nothing held out, nothing trimmed: every image of both splits.
    const ClaimData all = load_claim_data(ctx, "mnist", {});
    CHECK(all.train.size() == 1200);
    CHECK_THAT(all.train.name, !Catch::Contains("[:"));
    CHECK(all.validation.size() == 0);
    CHECK(all.test.size() == 50);
    // A hold-out that leaves fewer than 1000 training images is an error naming the data set.
    CHECK_THROWS_WITH(load_claim_data(ctx, "mnist", {.validation_images = 300}),
                      Catch::Contains("mnist") && Catch::Contains("too few"));
}

TEST_CASE("run_config: the run's data set, what the claim names, TrainConfig's defaults for the rest", "[claims]") {
    Dataset train;
    train.name = "cifar10[:384]";
    TrainConfig expected;
    expected.dataset = train.name;
    CHECK(to_json(run_config(train, {}, {})) == to_json(expected));  // RunSpec's defaults are TrainConfig's

    const TrainConfig c =
        run_config(train, {.arch = "small-cnn", .norm = "gn", .gn_groups = 2, .dropout = 0.5f},
                   {.optimizer = "adam", .lr = 0.3, .momentum = 0.0, .batch = 32, .epochs = 3, .steps = 7, .eval_every = 5,
                    .seed = 9, .threads = 1});
    CHECK(c.dataset == "cifar10[:384]");
    CHECK(c.model.arch == "small-cnn");
    CHECK(c.model.norm == "gn");
    CHECK(c.model.gn_groups == 2);
    CHECK(c.model.dropout == 0.5f);
    CHECK(c.optimizer == "adam");
    CHECK(c.lr == 0.3);
    CHECK(c.momentum == 0.0);
    CHECK(c.weight_decay == 0.0);
    CHECK(c.batch_size == 32);
    CHECK(c.epochs == 3);
    CHECK(c.steps == 7);
    CHECK(c.eval_every == 5);
    CHECK(c.seed == 9);
    CHECK(c.threads == 1);
    CHECK_NOTHROW(c.validate());
}

TEST_CASE("markdown tables and mean/std/CI cells", "[claims]") {
    const Table t{{"a", "b"}, {{"1", "2"}}};
    CHECK(t.markdown() == "| a | b |\n|---|---|\n| 1 | 2 |\n\n");
    const std::vector<double> v{0.8, 0.9};
    CHECK_THAT(mean_std_ci(v, 100, 1), Catch::StartsWith("85.0 ± 7.1 ["));
    CHECK(number(INFINITY) == "never");
}

TEST_CASE("bnlab claims: list, index from the summaries, and usage errors", "[claims][cli]") {
    using bnlab::test::run_bnlab;
    const auto list = run_bnlab("claims list");
    CHECK(list.exit_code == 0);
    for (const Claim& c : all_claims()) CHECK_THAT(list.output, Catch::Contains(c.name));

    bnlab::test::TempDir dir;
    const auto summary = [&](const std::string& name, const std::string& verdict, double seconds, int ranks) {
        std::filesystem::create_directories(dir.path() / name);
        std::ofstream(dir.path() / name / "summary.json")
            << fmt::format(R"({{"name": "{}", "verdict": "{}", "key_result": "k", "profile": "default", )"
                           R"("wall_seconds": {}, "threads": 1, "ranks": {}}})",
                           name, verdict, seconds, ranks);
    };
    summary("convergence", "refuted", 600, 1);
    summary("inference", "confirmed", 300, 2);
    const auto index = run_bnlab("claims index --out '" + dir.path().string() + "'");
    REQUIRE(index.exit_code == 0);
    const std::string text = bnlab::test::read_text(dir.path() / "index.md");
    CHECK_THAT(text, Catch::Contains("(convergence/report.md) |") && Catch::Contains("| **refuted** |") &&
                         Catch::Contains("| **confirmed** |") && Catch::Contains("15.0 min on 1 thread per process (the sum"));
    CHECK_THAT(text, Catch::Contains("| 10.0 min |") && Catch::Contains("| 5.0 min on 2 ranks |"));
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
