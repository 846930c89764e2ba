// Each claim's quick profile end to end (claims_test_util.h checks the report, the summary, the
// plots and the index). Claims on CIFAR-10 or MNIST run on the project's shared data.
#include <optional>
#include <catch2/catch.hpp>
#include <filesystem>

#include "tests/claims_test_util.h"

using namespace bnlab;
using bnlab::test::check_quick_run;
using bnlab::test::check_quick_run_on_shared_data;

namespace {

// A claim mapped along a regime axis: the report names the axis and where the claim holds, and
// summary.json carries both for the index's "where it holds" column.
void check_regime_map(const test::QuickRun& run, const std::string& axis) {
    CHECK_THAT(run.report, Catch::Contains("**Regime axis**: " + axis) && Catch::Contains("**Where it holds**") &&
                               Catch::Contains("### Where it holds"));
    const std::string summary = test::read_text(run.claim_dir / "summary.json");
    CHECK_THAT(summary, Catch::Contains("\"where_it_holds\"") && Catch::Contains("\"regime_axis\""));
}

}  // namespace

TEST_CASE("claim convergence: the quick profile writes a report with a verdict", "[claims][quick]") {
    test::TempDir dir;
    const auto run = check_quick_run("convergence", dir);
    check_regime_map(run, "depth");
    // Two families along depth, three arms (default init, He init, BN) at every depth.
    CHECK_THAT(run.report, Catch::Contains("### mlp: ReLU MLP") && Catch::Contains("### plain-cnn:") &&
                               Catch::Contains("speed-up over He init") && Catch::Contains("plots/speed_up_vs_depth_mlp.png"));
    CHECK(std::filesystem::exists(run.claim_dir / "runs" / "mlp8-none-he-lr0.03-seed1" / "metrics.csv"));
}

TEST_CASE("claim learning-rate: the quick profile writes a report with a verdict", "[claims][quick]") {
    test::TempDir dir;
    const auto run = check_quick_run("learning-rate", dir);
    check_regime_map(run, "depth");
    CHECK_THAT(run.report, Catch::Contains("largest stable LR: none") && Catch::Contains("BN's ceiling is set by") &&
                               Catch::Contains("plots/largest_stable_lr_mlp.png"));
    // bn-split trains the unnormalized layers at a fixed rate, recorded in its config.
    const std::string config = test::read_text(run.claim_dir / "runs" / "mlp2-bn-split-lr10-seed0" / "config.json");
    CHECK_THAT(config, Catch::Contains("\"unnormalized_lr\": 0.1"));
}

TEST_CASE("claim init-scale: the quick profile writes a report with a verdict", "[claims][quick]") {
    test::TempDir dir;
    const auto run = check_quick_run("init-scale", dir);
    check_regime_map(run, "depth");
    CHECK_THAT(run.report, Catch::Contains("### relu, depth 2") && Catch::Contains("### sigmoid, depth 8") &&
                               Catch::Contains("plots/validation_by_scale_sigmoid8.png") &&
                               Catch::Contains("plots/good_range_vs_depth.png"));
}

TEST_CASE("claim gradients: the quick profile writes a report with a verdict", "[claims][quick]") {
    test::TempDir dir;
    const auto run = check_quick_run_on_shared_data("gradients", "cifar10", dir);
    if (!run) return;
    CHECK_THAT(run->report, Catch::Contains("Yang et al.'s check") && Catch::Contains("effective beta") &&
                                Catch::Contains("plots/explosion_vs_depth.png"));
    check_regime_map(*run, "depth (hidden layers)");
}

TEST_CASE("claim regularization: the quick profile writes a report with a verdict", "[claims][quick]") {
    test::TempDir dir;
    const auto run = check_quick_run_on_shared_data("regularization", "cifar10", dir);
    if (!run) return;
    CHECK_THAT(run->report, Catch::Contains("gap at matched training accuracy") &&
                                Catch::Contains("gap(none) - gap(bn), matched") && Catch::Contains("bn, batch 512") &&
                                Catch::Contains("## 300 training images") && Catch::Contains("## 1000 training images"));
    check_regime_map(*run, "training images");
    // The fit curve starts before training (the observer sees the trainer first) and has a
    // row per evaluation (every 16 of 32 steps in the quick profile), x in training images seen.
    const std::string fit = test::read_text(run->claim_dir / "runs" / "bn-dropout0-batch64-n300-seed0" / "fit.csv");
    CHECK_THAT(fit, Catch::StartsWith("images_seen,train_accuracy_eval_mode,test_accuracy\n0,") &&
                        Catch::Contains("\n2048,"));
    CHECK(std::count(fit.begin(), fit.end(), '\n') == 4);
    // GroupNorm with dropout and BN at batch 512 run at the largest size only.
    CHECK(std::filesystem::exists(run->claim_dir / "runs" / "bn-dropout0-batch512-n1000-seed0"));
    CHECK_FALSE(std::filesystem::exists(run->claim_dir / "runs" / "bn-dropout0-batch512-n300-seed0"));
}

TEST_CASE("claim batch-size: the quick profile writes a report with a verdict", "[claims][quick]") {
    test::TempDir dir;
    const auto run = check_quick_run("batch-size", dir);
    check_regime_map(run, "values each BN statistic averages over");
    CHECK_THAT(run.report, Catch::Contains("Change in test error from B=32") && Catch::Contains("### ghost:"));
    CHECK(std::filesystem::exists(run.claim_dir / "runs" / "mlp-gn-batch2-seed0" / "metrics.csv"));
    CHECK(std::filesystem::exists(run.claim_dir / "plots" / "bn_change_vs_values_per_statistic.dat"));
    // The ghost family trains at batch 32 with BN's statistics over 2 samples.
    const std::string config = test::read_text(run.claim_dir / "runs" / "ghost-bn-batch2-seed0" / "config.json");
    CHECK_THAT(config, Catch::Contains("\"batch_size\": 32") && Catch::Contains("\"bn_ghost_batch_size\": 2"));
}

TEST_CASE("claim inference: the quick profile writes a report with a verdict", "[claims][quick]") {
    test::TempDir dir;
    const auto run = check_quick_run("inference", dir);
    check_regime_map(run, "the test batch");
    CHECK(std::filesystem::exists(run.claim_dir / "plots" / "accuracy_vs_test_batch.png"));
}

TEST_CASE("claim placement: the quick profile writes a report with a verdict", "[claims][quick]") {
    test::TempDir dir;
    const auto run = check_quick_run_on_shared_data("placement", "cifar10", dir);
    if (!run) return;
    check_regime_map(*run, "the activation");
    CHECK_THAT(run->report, Catch::Contains("Conv → relu → BN") && Catch::Contains("Conv → BN → tanh") &&
                                Catch::Contains("plots/training_loss_tanh.png"));
    const std::string config = test::read_text(run->claim_dir / "runs" / "tanh-after-lr0.03-seed0" / "config.json");
    CHECK_THAT(config, Catch::Contains("\"activation\": \"tanh\"") && Catch::Contains("\"norm_after_activation\": true"));
}

TEST_CASE("claim covariate-shift: the quick profile writes a report with a verdict", "[claims][quick]") {
    test::TempDir dir;
    const auto run = check_quick_run_on_shared_data("covariate-shift", "mnist", dir);
    if (!run) return;
    CHECK_THAT(run->report, Catch::Contains("drift of the typical unit") && Catch::Contains("cos(G, G')") &&
                                Catch::Contains("### 3 hidden layers (Fig. 1's network)") &&
                                Catch::Contains("### 6 hidden layers") && Catch::Contains("fc6: ‖G-G'‖/‖G‖") &&
                                Catch::Contains("plots/ics_h6.png"));
    check_regime_map(*run, "depth (hidden layers of the sigmoid MLP)");
}

namespace {

// Runs a claim's quick profile, marks one finished run unfinished, runs it again with --resume:
// that run is trained again, the others are read back, and the verdict and numbers agree.
// `data_set_folder`: a claim on the shared real data (skipped where it is not there).
// `corrupt`: a run whose record file (RUN/<record>) is overwritten with garbage: trained again.
struct CorruptRecord {
    std::string run, record;
};
void check_resume(const std::string& claim, const std::string& unfinished_run, const std::string& data_set_folder = "",
                  const std::optional<CorruptRecord>& corrupt = std::nullopt) {
    if (!data_set_folder.empty() && !test::have(test::shared_data() / data_set_folder, "set BNLAB_SHARED_DATA")) return;
    test::TempDir dir;
    claims::ClaimOptions options;
    if (!data_set_folder.empty()) options.data_dir = test::shared_data().string();
    std::vector<std::string> lines;
    options.log = [&](const std::string& line) { lines.push_back(line); };
    const auto first = check_quick_run(claim, dir, options);
    const auto count = [&](const std::string& what) {
        return std::count_if(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(what) != std::string::npos; });
    };
    REQUIRE(count(" after ") > 0);
    REQUIRE(std::filesystem::exists(first.claim_dir / "runs" / unfinished_run));
    std::ofstream(first.claim_dir / "runs" / unfinished_run / "run.incomplete") << "";
    if (corrupt) {
        REQUIRE(std::filesystem::exists(first.claim_dir / "runs" / corrupt->run / corrupt->record));
        std::ofstream(first.claim_dir / "runs" / corrupt->run / corrupt->record) << "{\"diverged\": tru";
    }
    lines.clear();
    options.reuse_finished_runs = true;
    const auto resumed = check_quick_run(claim, dir, options);
    CHECK(count("read back") > 0);
    CHECK(count(unfinished_run + ": ") == 1);  // the unfinished one, trained again
    CHECK(count(unfinished_run + ": finished before") == 0);
    if (corrupt) CHECK(count(corrupt->run + ": finished before") == 0);  // a record that does not parse: retrained
    CHECK(resumed.outcome.verdict == first.outcome.verdict);
    CHECK(resumed.outcome.key_result == first.outcome.key_result);
    CHECK(resumed.outcome.reason == first.outcome.reason);
}

}  // namespace

TEST_CASE("claims run --resume reads back the runs an earlier convergence run finished and writes the same report",
          "[claims][quick]") {
    check_resume("convergence", "mlp2-bn-lr0.3-seed1");
}

TEST_CASE("claims run --resume reads back learning-rate's sweep runs, diverged ones too", "[claims][quick]") {
    check_resume("learning-rate", "mlp2-bn-lr1-seed0", "", CorruptRecord{"mlp2-none-lr0.1-seed0", "sweep.json"});
}

TEST_CASE("claims run --resume reads back regularization's runs and its learning-rate sweep", "[claims][quick]") {
    check_resume("regularization", "gn-dropout0-batch64-n300-seed0", "cifar10",
                 CorruptRecord{"bn-dropout0-batch64-n1000-seed0", "outcome.json"});
}
