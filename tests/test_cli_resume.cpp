// bnlab train's checkpoints and --resume, and the rule that no command silently replaces what
// an earlier run or report wrote (train, compare, claims run), through the built binary on the
// real Fashion-MNIST (Debian's dataset-fashion-mnist).
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "data_test_util.h"

using namespace bnlab::test;

namespace {

std::string quoted(const fs::path& path) { return fmt::format("'{}'", path.string()); }

std::string read_text(const fs::path& path) {
    const std::vector<uint8_t> bytes = read_bytes(path);
    return {bytes.begin(), bytes.end()};
}

// metrics.csv with every wall_seconds cell (column 8) blanked: the one thing that may differ.
std::string metrics_without_time(const fs::path& csv) {
    std::istringstream in(read_text(csv));
    std::string out;
    for (std::string line; std::getline(in, line);) {
        size_t start = 0;
        for (int comma = 0; comma < 7; ++comma) start = line.find(',', start) + 1;
        out += line.substr(0, start) + line.substr(line.find(',', start)) + "\n";
    }
    return out;
}

// 1280 images in batches of 64: 20 steps per epoch, 2 epochs. Dropout and BatchNorm make the
// random generators and the running statistics part of what must be restored.
const std::string kRun = "train --model mlp --norm bn --dropout 0.2 --limit 1280 --test-limit 500 --batch-size 64 "
                         "--epochs 2 --eval-every 5 --lr 0.1 --threads 1";

}  // namespace

TEST_CASE("train --resume after an interruption writes the same metrics and weights as an uninterrupted run",
          "[cli][train][resume]") {
    TempDir dir;
    const CommandResult whole = run_bnlab(kRun + " --out " + quoted(dir / "whole"));
    INFO(whole.output);
    REQUIRE(whole.exit_code == 0);
    CHECK(fs::exists(dir / "whole" / "checkpoint.safetensors"));
    CHECK_THAT(whole.output, Catch::Contains("1280 (--limit, of 60000) train images / 500 (--test-limit, of 10000) test"));

    // Checkpoints after steps 7 and 14; stopped at 17, after metrics rows 5, 10 and 15 were
    // written: the resumed run starts at 14 and must write row 15 again, not keep the old one.
    const CommandResult first = run_bnlab(kRun + " --save-every 7 --stop-after 17 --out " + quoted(dir / "cut"));
    INFO(first.output);
    REQUIRE(first.exit_code == 0);
    CHECK_FALSE(fs::exists(dir / "cut" / "model.safetensors"));
    CHECK_THAT(read_text(dir / "cut.partial" / "metrics.csv"), Catch::Contains("\n15,"));

    const CommandResult resumed = run_bnlab("train --resume " + quoted(dir / "cut"));
    INFO(resumed.output);
    REQUIRE(resumed.exit_code == 0);
    CHECK_THAT(resumed.output, Catch::Contains("at step 14 of 40"));
    CHECK(metrics_without_time(dir / "cut" / "metrics.csv") == metrics_without_time(dir / "whole" / "metrics.csv"));
    CHECK(read_bytes(dir / "cut" / "model.safetensors") == read_bytes(dir / "whole" / "model.safetensors"));
    CHECK_THAT(read_text(dir / "cut" / "train.log"), Catch::Contains("stopped at step 17") &&
                                                         Catch::Contains("finished 40 steps"));
}

TEST_CASE("train refuses to overwrite a previous run unless --force or --resume", "[cli][train][resume]") {
    TempDir dir;
    const fs::path run = dir / "run";
    const std::string tiny = " --model mlp --limit 256 --test-limit 100 --steps 2 --threads 1 --out " + quoted(run);
    REQUIRE(run_bnlab("train" + tiny).exit_code == 0);
    const std::vector<uint8_t> model = read_bytes(run / "model.safetensors");

    const CommandResult again = run_bnlab("train --lr 0.5" + tiny);
    INFO(again.output);
    CHECK(again.exit_code == 2);
    CHECK_THAT(again.output, Catch::Contains(run.string() + " already holds a previous run") &&
                                 Catch::Contains("--force") && Catch::Contains("--resume " + run.string()));
    CHECK(read_bytes(run / "model.safetensors") == model);

    const CommandResult forced = run_bnlab("train --lr 0.5 --force" + tiny);
    INFO(forced.output);
    CHECK(forced.exit_code == 0);
    CHECK(read_bytes(run / "model.safetensors") != model);

    // --resume continues the run's own config: another training flag with it is an error.
    const CommandResult mixed = run_bnlab("train --resume " + quoted(run) + " --lr 0.3");
    CHECK(mixed.exit_code == 2);
    CHECK_THAT(mixed.output, Catch::Contains("--lr cannot be combined with --resume"));
    const CommandResult nothing = run_bnlab("train --resume " + quoted(dir / "none"));
    CHECK(nothing.exit_code == 2);
    CHECK_THAT(nothing.output, Catch::Contains("holds no checkpoint"));
}

TEST_CASE("compare and claims run refuse to overwrite earlier reports unless --force", "[cli][resume]") {
    TempDir dir;
    write_bytes(dir / "cmp" / "report.md", {'x'});
    const CommandResult compare = run_bnlab("compare --model mlp --steps 2 --out " + quoted(dir / "cmp"));
    CHECK(compare.exit_code == 2);
    CHECK_THAT(compare.output, Catch::Contains((dir / "cmp").string() + " already holds a previous comparison (report.md)"));

    write_bytes(dir / "claims" / "convergence" / "report.md", {'x'});
    const CommandResult claim = run_bnlab("claims run convergence --quick --out " + quoted(dir / "claims"));
    CHECK(claim.exit_code == 2);
    CHECK_THAT(claim.output, Catch::Contains((dir / "claims" / "convergence").string() +
                                             " already holds the report of claim convergence"));
    CHECK(read_bytes(dir / "claims" / "convergence" / "report.md") == std::vector<uint8_t>{'x'});
}

TEST_CASE("the batch flag is --batch-size with --batch as its alias, and an unknown flag names the nearest one", "[cli][options]") {
    const CommandResult zero = run_bnlab("train --batch-size 0");
    CHECK(zero.exit_code == 2);
    CHECK_THAT(zero.output, Catch::Contains("--batch-size: must be >= 1, got 0"));
    CHECK_THAT(run_bnlab("train --batch 0").output, Catch::Contains("--batch-size: must be >= 1, got 0"));
    CHECK_THAT(run_bnlab("train --help").output, Catch::Contains("--batch-size,--batch"));

    const std::vector<std::pair<std::string, std::string>> typos = {
        {"train --bach-size 64", "--batch-size"}, {"train --xyzzy=0.1", ""}, {"train --epoch 2", "--epochs"},
        {"compare --arm none", "--arms"},           {"eval m.safetensors --limt 5", "--limit"}};
    for (const auto& [args, nearest] : typos) {
        const CommandResult r = run_bnlab(args);
        INFO(args << "\n" << r.output);
        CHECK(r.exit_code == 2);
        CHECK_THAT(r.output, Catch::Contains("unknown option"));
        if (nearest.empty()) CHECK_THAT(r.output, !Catch::Contains("did you mean"));
        else CHECK_THAT(r.output, Catch::Contains("did you mean " + nearest + "?"));
    }
}
