// bnlab train and bnlab compare through the built binary, on the real Fashion-MNIST
// (Debian's dataset-fashion-mnist), plus the compare statistics on hand-made rows.
#include <catch2/catch.hpp>
#include <cmath>
#include <sstream>

#include "experiments/compare.h"
#include "tests/data_test_util.h"

using namespace bnlab;
using bnlab::test::run_shell;
using bnlab::test::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string kBinary = BNLAB_BINARY;

// metrics.csv without its wall_seconds column (the one thing that may differ between runs).
std::string metrics_without_time(const fs::path& csv) {
    std::ifstream in(csv);
    std::string line, out;
    while (std::getline(in, line)) {
        std::vector<std::string> cells;
        std::stringstream ss(line);
        for (std::string cell; std::getline(ss, cell, ',');) cells.push_back(cell);
        cells.erase(cells.begin() + 7);  // step,epoch,lr,train_loss,train_accuracy,test_loss,test_accuracy,wall_seconds,...
        for (const auto& c : cells) out += c + ",";
        out += "\n";
    }
    return out;
}

double last_test_accuracy(const fs::path& csv) {
    std::ifstream in(csv);
    std::string line, last;
    while (std::getline(in, line)) last = line;
    std::vector<std::string> cells;
    std::stringstream ss(last);
    for (std::string cell; std::getline(ss, cell, ',');) cells.push_back(cell);
    return std::stod(cells.at(6));
}

bool is_png(const fs::path& path, int& width, int& height) {
    const std::vector<uint8_t> b = bnlab::test::read_bytes(path);
    const uint8_t magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (b.size() < 24 || !std::equal(magic, magic + 8, b.begin())) return false;
    width = (b[16] << 24) | (b[17] << 16) | (b[18] << 8) | b[19];
    height = (b[20] << 24) | (b[21] << 16) | (b[22] << 8) | b[23];
    return std::string(b.begin() + 12, b.begin() + 16) == "IHDR";
}

const std::string kMlpRun = " train --model mlp --norm bn --limit 10000 --test-limit 2000 --epochs 3 --lr 0.1 --threads 2";

}  // namespace

TEST_CASE("bnlab train: mlp with BatchNorm learns Fashion-MNIST and writes its run directory", "[cli][train]") {
    TempDir dir;
    const auto r = run_shell(kBinary + kMlpRun + " --out " + (dir / "run").string());
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    for (const char* f : {"config.json", "metrics.csv", "train.log", "model.safetensors"})
        CHECK(fs::exists(dir / "run" / f));
    // 3 epochs of 10000 images: the BN paper's MLP reaches > 80% on Fashion-MNIST.
    CHECK(last_test_accuracy(dir / "run" / "metrics.csv") > 0.80);
    std::ifstream log(dir / "run" / "train.log");
    const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    CHECK_THAT(text, Catch::Contains("finished 234 steps"));
}

TEST_CASE("bnlab train: two identical runs write identical metrics", "[cli][train][determinism]") {
    TempDir dir;
    for (const char* name : {"a", "b"}) {
        const auto r = run_shell(kBinary + kMlpRun + " --dropout 0.2 --out " + (dir / name).string());
        REQUIRE(r.exit_code == 0);
    }
    CHECK(metrics_without_time(dir / "a" / "metrics.csv") == metrics_without_time(dir / "b" / "metrics.csv"));
    CHECK(bnlab::test::read_bytes(dir / "a" / "model.safetensors") == bnlab::test::read_bytes(dir / "b" / "model.safetensors"));
}

TEST_CASE("bnlab train: a huge learning rate ends as 'diverged', exit code 3", "[cli][train]") {
    TempDir dir;
    const auto r = run_shell(kBinary + " train --model mnist-cnn --limit 1280 --test-limit 500 --steps 10 --lr 10000 --out " +
                             (dir / "run").string());
    CHECK(r.exit_code == 3);
    CHECK_THAT(r.output, Catch::Contains("diverged at step"));
    std::ifstream metrics(dir / "run" / "metrics.csv");
    const std::string csv((std::istreambuf_iterator<char>(metrics)), std::istreambuf_iterator<char>());
    CHECK_THAT(csv, Catch::Contains(",diverged,"));
}

TEST_CASE("bnlab train: bad flags and missing data are usage errors (exit code 2)", "[cli][train]") {
    struct Case {
        std::string args, message;
    };
    const std::vector<Case> cases = {
        {"train --lr abc", "--lr"},
        {"train --lr -1", "--lr: must be > 0"},
        {"train --model resnet", "--model: unknown model 'resnet'"},
        {"train --norm batch", "--norm: unknown norm 'batch'"},
        {"train --norm-position middle", "--norm-position: 'middle' is not before or after"},
        {"train --bn-momentum fast", "--bn-momentum: 'fast' is not a number or 'none'"},
        {"train --optimizer rmsprop", "--optimizer: unknown optimizer 'rmsprop' (known: sgd, adam, adamw)"},
        {"train --dataset imagenet", "--dataset: unknown data set 'imagenet'"},
        {"train --frobnicate", "unknown option '--frobnicate'"},
        {"train --dataset mnist --data-dir /nonexistent", "data set 'mnist' (train split) not found"},
        {"compare --arms none,bm", "--arms: unknown norm 'bm'"},
        {"compare --seeds 0", "--seeds: need at least 1"},
        {"frobnicate", "frobnicate"},
    };
    for (const Case& c : cases) {
        const auto r = run_shell("cd /tmp && env -u BNLAB_DATA " + kBinary + " " + c.args);
        INFO(c.args << "\n" << r.output);
        CHECK(r.exit_code == 2);
        CHECK_THAT(r.output, Catch::Contains(c.message));
    }
}

TEST_CASE("bnlab compare writes summary.csv, report.md, run directories and PNG plots", "[cli][compare]") {
    TempDir dir;
    const fs::path out = dir / "cmp";
    const auto r = run_shell(kBinary + " compare --model mlp --arms none,bn --seeds 2 --limit 2560 --test-limit 1000 "
                                       "--steps 40 --eval-every 10 --lr 0.1 --out " + out.string());
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    for (const char* run : {"none-seed0", "none-seed1", "bn-seed0", "bn-seed1"})
        CHECK(fs::exists(out / run / "metrics.csv"));
    std::ifstream summary(out / "summary.csv");
    int lines = 0;
    for (std::string line; std::getline(summary, line);) ++lines;
    CHECK(lines == 5);
    std::ifstream report_file(out / "report.md");
    const std::string report((std::istreambuf_iterator<char>(report_file)), std::istreambuf_iterator<char>());
    CHECK_THAT(report, Catch::Contains("| none |") && Catch::Contains("| bn |") && Catch::Contains("bnlab compare --model mlp"));
    for (const char* plot : {"test_accuracy.png", "train_loss.png"}) {
        int width = 0, height = 0;
        CHECK(is_png(out / "plots" / plot, width, height));
        CHECK(width == 900);
        CHECK(height == 560);
    }
    CHECK_THAT(r.output, Catch::Contains("report: " + (out / "report.md").string()));
}

namespace {
MetricsRow row(int64_t step, double accuracy) {
    MetricsRow r;
    r.step = step;
    r.test_accuracy = accuracy;
    r.test_loss = 1 - accuracy;
    return r;
}

CompareRun run_of(const std::string& arm, std::vector<MetricsRow> rows) {
    CompareRun r;
    r.arm = arm;
    r.rows = std::move(rows);
    r.result.last = r.rows.back();
    return r;
}
}  // namespace

TEST_CASE("compare statistics: steps to target with censored runs, default target", "[compare][stats]") {
    CompareResult result;
    // Arm a reaches 0.8 at steps 20, 30 and never; arm b at 10, 10, 20.
    result.runs = {run_of("a", {row(10, 0.5), row(20, 0.8), row(30, 0.85)}),
                   run_of("a", {row(10, 0.5), row(20, 0.7), row(30, 0.81)}),
                   run_of("a", {row(10, 0.5), row(20, 0.6), row(30, 0.7)}),
                   run_of("b", {row(10, 0.8), row(20, 0.9), row(30, 0.9)}),
                   run_of("b", {row(10, 0.82), row(20, 0.85), row(30, 0.95)}),
                   run_of("b", {row(10, 0.6), row(20, 0.8), row(30, 0.92)})};
    summarize(result, {"a", "b"}, 0.8);
    REQUIRE(result.arms.size() == 2);
    const ArmSummary& a = result.arms[0];
    CHECK(a.reached == 2);
    CHECK(a.median_steps_to_target == 30);  // {20, 30, never}: the median is 30
    CHECK_FALSE(a.steps_to_target[2].has_value());
    CHECK(a.final_accuracy_mean == Approx((0.85 + 0.81 + 0.7) / 3));
    CHECK(a.final_accuracy_std == Approx(0.0776745).epsilon(1e-4));  // sample std
    CHECK(result.arms[1].median_steps_to_target == 10);

    // Most runs never reach the target: the median is "not reached", not the one that did.
    summarize(result, {"a", "b"}, 0.84);
    CHECK(std::isnan(result.arms[0].median_steps_to_target));
    CHECK(result.arms[0].reached == 1);

    // Default target: 95% of the weaker arm's mean final accuracy.
    summarize(result, {"a", "b"}, 0);
    CHECK(result.target == Approx(0.95 * (0.85 + 0.81 + 0.7) / 3));
}

TEST_CASE("compare statistics: diverged runs are counted, not averaged", "[compare][stats]") {
    CompareResult result;
    result.runs = {run_of("a", {row(10, 0.5), row(20, 0.8)}), run_of("a", {row(10, 0.5)})};
    result.runs[1].result.diverged = true;
    result.runs[1].result.diverged_at = 12;
    summarize(result, {"a"}, 0.75);
    CHECK(result.arms[0].diverged == 1);
    CHECK(result.arms[0].final_accuracy_mean == 0.8);
    CHECK(result.arms[0].reached == 1);
    CHECK(std::isnan(result.arms[0].median_steps_to_target));  // {20, never}: median of 2 is not reached
}
