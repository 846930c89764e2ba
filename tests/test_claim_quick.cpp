// Each claim's quick profile end to end (claims_test_util.h checks the report, the summary, the
// plots and the index). Claims on CIFAR-10 or MNIST run on the project's shared data.
#include <catch2/catch.hpp>
#include <filesystem>

#include "tests/claims_test_util.h"

using namespace bnlab;
using bnlab::test::check_quick_run;
using bnlab::test::check_quick_run_on_shared_data;

TEST_CASE("claim convergence: the quick profile writes a report with a verdict", "[claims][quick]") {
    check_quick_run("convergence");
}

TEST_CASE("claim learning-rate: the quick profile writes a report with a verdict", "[claims][quick]") {
    const std::string report = check_quick_run("learning-rate");
    CHECK_THAT(report, Catch::Contains("largest stable LR") && Catch::Contains("plots/validation_by_lr.png"));
}

TEST_CASE("claim init-scale: the quick profile writes a report with a verdict", "[claims][quick]") {
    const std::string report = check_quick_run("init-scale");
    CHECK_THAT(report, Catch::Contains("### relu") && Catch::Contains("### sigmoid") &&
                           Catch::Contains("plots/validation_by_scale_sigmoid.png"));
}

TEST_CASE("claim gradients: the quick profile writes a report with a verdict", "[claims][quick]") {
    const std::string report = check_quick_run_on_shared_data("gradients", "cifar10");
    if (!report.empty()) CHECK_THAT(report, Catch::Contains("Yang et al.'s check") && Catch::Contains("effective beta"));
}

TEST_CASE("claim regularization: the quick profile writes a report with a verdict", "[claims][quick]") {
    test::TempDir dir;
    const auto run = check_quick_run_on_shared_data("regularization", "cifar10", dir);
    if (!run) return;
    CHECK_THAT(run->report, Catch::Contains("gap at matched training accuracy") &&
                                Catch::Contains("gap(none) - gap(bn), matched") && Catch::Contains("bn, batch 512"));
    // The fit curve starts before training (the observer sees the trainer first) and has a
    // row per epoch (2 in the quick profile).
    const std::string fit = test::read_text(run->claim_dir / "runs" / "bn-dropout0-batch64-seed0" / "fit.csv");
    CHECK_THAT(fit, Catch::StartsWith("epoch,train_accuracy_eval_mode,test_accuracy\n0.0000,"));
    CHECK(std::count(fit.begin(), fit.end(), '\n') == 4);
}

TEST_CASE("claim batch-size: the quick profile writes a report with a verdict", "[claims][quick]") {
    test::TempDir dir;
    const auto run = check_quick_run("batch-size", dir);
    CHECK_THAT(run.report, Catch::Contains("Change in test error from B=32") && Catch::Contains("| 2 (rule) |"));
    CHECK(std::filesystem::exists(run.claim_dir / "runs" / "gn-batch2-seed0" / "metrics.csv"));
    CHECK(std::filesystem::exists(run.claim_dir / "plots" / "test_error_vs_batch.dat"));
}

TEST_CASE("claim inference: the quick profile writes a report with a verdict", "[claims][quick]") {
    check_quick_run("inference");
}

TEST_CASE("claim placement: the quick profile writes a report with a verdict", "[claims][quick]") {
    const std::string report = check_quick_run_on_shared_data("placement", "cifar10");
    if (!report.empty()) CHECK_THAT(report, Catch::Contains("Conv → ReLU → BN") && Catch::Contains("plots/training_loss.png"));
}

TEST_CASE("claim covariate-shift: the quick profile writes a report with a verdict", "[claims][quick]") {
    const std::string report = check_quick_run_on_shared_data("covariate-shift", "mnist");
    if (!report.empty()) CHECK_THAT(report, Catch::Contains("drift of the typical unit") && Catch::Contains("cos(G, G')"));
}
