// Claims regularization and batch-size: gaps at matched training accuracy on hand-made fit
// curves, paired effects against hand-computed bootstrap intervals, the verdict rules on
// synthetic results (arms that do not differ must not be "confirmed"), and the quick profiles.
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>

#include "experiments/claims/claim_support.h"
#include "experiments/claims/claims.h"
#include "tests/claims_test_util.h"

using namespace bnlab;
using namespace bnlab::claims;

namespace {

PairedEffect effect(std::vector<double> per_seed) { return paired_effect(per_seed); }

}  // namespace

TEST_CASE("paired effects: mean and bootstrap interval over seeds", "[claims][claims-c][stats]") {
    // {1,2,3}: a resample's mean is 1 only when all three draws are 1, p = 1/27 = 0.037 > 0.025,
    // so the 2.5% quantile is 1 and (by symmetry) the 97.5% quantile is 3: the range of the seeds.
    const PairedEffect e = effect({1, 2, 3});
    CHECK(e.mean == 2.0);
    CHECK(e.ci.low == 1.0);
    CHECK(e.ci.high == 3.0);
    CHECK(e.clearly_positive());
    CHECK_FALSE(effect({-0.5, 2, 3}).clearly_positive());  // one seed disagrees
    CHECK_FALSE(PairedEffect{}.clearly_positive());         // no values
    CHECK_FALSE(effect({NAN}).clearly_positive());
    CHECK(effect({NAN, 1, 3}).mean == 2.0);                  // unmeasured seeds are left out
    CHECK(effect_cell(e) == "+2.00 [+1.00, +3.00]");
    CHECK(effect_cell(effect({-1.5}), 1, 1) == "-1.5 [-1.5, -1.5]");
    CHECK(differences(std::vector<double>{5, 7}, std::vector<double>{1, 10}) == std::vector<double>{4, -3});
}

TEST_CASE("points curves: mean and min..max per x, NaN left out", "[claims][claims-c]") {
    const std::vector<double> x{2, 4, 8};
    const Curve c = points_curve("bn", x, {{0.1, 0.3}, {NAN, 0.5}, {NAN}}, 100);
    REQUIRE(c.x == std::vector<double>{2, 4});  // x = 8 has no finite value
    CHECK(c.mean[0] == Approx(20));
    CHECK(c.low[0] == Approx(10));
    CHECK(c.high[0] == Approx(30));
    CHECK(c.mean[1] == Approx(50));
}

TEST_CASE("gap at a training accuracy: interpolated on the fit curve, NaN when never reached",
          "[claims][claims-c][regularization]") {
    // (train, test) accuracy at successive evaluations.
    const std::vector<FitPoint> curve{{0.1, 0.1}, {0.5, 0.45}, {0.8, 0.6}, {0.9, 0.62}};
    // 0.7 lies 2/3 of the way from 0.5 to 0.8: test = 0.45 + 2/3 * 0.15 = 0.55, gap = 0.15.
    CHECK(gap_at_training_accuracy(curve, 0.7) == Approx(0.15));
    CHECK(gap_at_training_accuracy(curve, 0.8) == Approx(0.2));  // exactly at an evaluation
    CHECK(gap_at_training_accuracy(curve, 0.1) == Approx(0.0));
    CHECK(std::isnan(gap_at_training_accuracy(curve, 0.95)));   // never reached
    CHECK(std::isnan(gap_at_training_accuracy(curve, 0.05)));   // below the curve's start
    // The first crossing counts, even if training accuracy dips below the level later.
    const std::vector<FitPoint> dipping{{0.1, 0.1}, {0.6, 0.5}, {0.55, 0.5}, {0.7, 0.55}};
    CHECK(gap_at_training_accuracy(dipping, 0.6) == Approx(0.1));
    // Matched level: the smallest of the runs' peaks.
    const std::vector<std::vector<FitPoint>> runs{curve, dipping};
    CHECK(matched_training_accuracy(runs) == Approx(0.7));
    CHECK(std::isnan(matched_training_accuracy(std::span<const std::vector<FitPoint>>{})));
}

TEST_CASE("the regularization verdict can say refuted, depends and confirmed", "[claims][claims-c][verdict]") {
    const PairedEffect clear = effect({4.0, 5.5, 3.2});  // points, every seed agrees
    const PairedEffect none = effect({0.4, -0.6, 0.1});  // arms that do not differ
    CHECK(regularization_verdict({clear, clear, clear}).first == "confirmed");
    CHECK(regularization_verdict({none, none, none}).first == "refuted");
    CHECK(regularization_verdict({none, clear, clear}).first == "refuted");  // not below no-norm: no regularization
    const auto partial = regularization_verdict({clear, none, clear});
    CHECK(partial.first == "depends");
    CHECK_THAT(partial.second, Catch::Contains("GroupNorm") && !Catch::Contains("dropout does not"));
    const auto no_dropout_effect = regularization_verdict({clear, clear, none});
    CHECK(no_dropout_effect.first == "depends");
    CHECK_THAT(no_dropout_effect.second, Catch::Contains("dropout does not clearly add less"));
    // A large mean with one seed the other way is not enough.
    CHECK(regularization_verdict({effect({9, 8, -1}), clear, clear}).first == "refuted");
}

TEST_CASE("the batch-size verdict can say refuted, depends and confirmed", "[claims][claims-c][verdict]") {
    const PairedEffect flat = effect({0.2, -0.3, 0.1});
    // Wu & He's ResNet-50 numbers as changes from batch 32: BN +3.7 at 4, +11.1 at 2; GN +0.1, 0.0.
    const std::vector<SmallBatchChange> wu_he{
        {2, effect({11.1, 10.5, 11.8}), effect({0.0, 0.1, -0.1}), effect({0.4, 0.5, 0.3})},
        {4, effect({3.7, 3.5, 3.9}), effect({0.1, 0.2, 0.0}), effect({0.5, 0.2, 0.3})}};
    CHECK(batch_size_verdict(wu_he).first == "confirmed");
    const std::vector<SmallBatchChange> no_difference{{2, flat, flat, flat}, {4, flat, flat, flat}};
    CHECK(batch_size_verdict(no_difference).first == "refuted");
    const std::vector<SmallBatchChange> only_at_2{{2, effect({6, 7, 5}), flat, flat}, {4, effect({1, 2, 1.5}), flat, flat}};
    const auto partial = batch_size_verdict(only_at_2);
    CHECK(partial.first == "depends");
    CHECK_THAT(partial.second, Catch::Contains("not more than 3 points worse at B=4"));
    const std::vector<SmallBatchChange> all_degrade{{2, effect({6, 7, 5}), effect({4, 5, 3}), flat},
                                                    {4, effect({5, 4, 6}), flat, flat}};
    const auto gn_too = batch_size_verdict(all_degrade);
    CHECK(gn_too.first == "depends");
    CHECK_THAT(gn_too.second, Catch::Contains("GN +4.0 at B=2"));
    // A mean above 3 points with a seed that got better is not a failure.
    const std::vector<SmallBatchChange> noisy{{2, effect({10, 1, -1}), flat, flat}};
    CHECK(batch_size_verdict(noisy).first == "refuted");
    CHECK_THROWS(batch_size_verdict({}));
}

TEST_CASE("claim regularization: the quick profile writes a report with a verdict", "[claims][claims-c][quick]") {
    if (!bnlab::test::have(bnlab::test::shared_data() / "cifar10", "set BNLAB_SHARED_DATA")) return;
    bnlab::test::TempDir dir;
    ClaimOptions options;
    options.data_dir = bnlab::test::shared_data().string();
    options.threads = 1;  // small-cnn gains little from 2 threads, and loses much when ctest runs tests side by side
    const auto run = bnlab::test::check_quick_run("regularization", dir, options);
    CHECK_THAT(run.report, Catch::Contains("gap at matched training accuracy") &&
                               Catch::Contains("gap(none) - gap(bn), matched") && Catch::Contains("bn, batch 512"));
    // The fit curve starts before training (the observer sees the trainer first) and has a
    // row per epoch (2 in the quick profile).
    const std::string fit = bnlab::test::read_text(run.claim_dir / "runs" / "bn-dropout0-batch64-seed0" / "fit.csv");
    CHECK_THAT(fit, Catch::StartsWith("epoch,train_accuracy_eval_mode,test_accuracy\n0.0000,"));
    CHECK(std::count(fit.begin(), fit.end(), '\n') == 4);
}

TEST_CASE("claim batch-size: the quick profile writes a report with a verdict", "[claims][claims-c][quick]") {
    bnlab::test::TempDir dir;
    ClaimOptions options;
    options.threads = 1;
    const auto run = bnlab::test::check_quick_run("batch-size", dir, options);
    CHECK_THAT(run.report, Catch::Contains("Change in test error from B=32") && Catch::Contains("| 2 (rule) |"));
    CHECK(std::filesystem::exists(run.claim_dir / "runs" / "gn-batch2-seed0" / "metrics.csv"));
    CHECK(std::filesystem::exists(run.claim_dir / "plots" / "test_error_vs_batch.dat"));
}
