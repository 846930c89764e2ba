// Every claim's verdict rule on synthetic results: each can say refuted, depends and confirmed,
// and arms that do not differ are never "confirmed". Also the measures the rules read
// (reachable target, placement effect, clearly smaller, gap at matched training accuracy).
#include <catch2/catch.hpp>
#include <cmath>

#include "experiments/claims/claims.h"

using namespace bnlab;
using namespace bnlab::claims;

namespace {

PairedEffect effect(std::vector<double> per_seed) { return paired_effect(per_seed); }

}  // namespace

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

TEST_CASE("the learning-rate verdict can say refuted, depends and confirmed", "[claims][verdict]") {
    // Grid indices: 1e-3 is 0, ..., 10 is 8.
    CHECK(learning_rate_verdict({5, 3}, {7, 5}) == "confirmed");
    CHECK(learning_rate_verdict({5, 3}, {5, 3}) == "refuted");  // arms that do not differ
    CHECK(learning_rate_verdict({5, 3}, {4, 2}) == "refuted");  // BN worse on both counts
    CHECK(learning_rate_verdict({5, 3}, {6, 3}) == "depends");  // higher, but not a wider band
    CHECK(learning_rate_verdict({5, 3}, {5, 4}) == "depends");  // wider band, same boundary
    CHECK(learning_rate_verdict({-1, 0}, {0, 1}) == "confirmed");  // no stable rate without BN
}

TEST_CASE("the init-scale verdict can say refuted, depends and confirmed", "[claims][verdict]") {
    CHECK(init_scale_verdict({4.0, 1.5, true, true}) == "confirmed");
    CHECK(init_scale_verdict({4.0, 4.0, false, false}) == "refuted");  // arms that do not differ
    CHECK(init_scale_verdict({1.0, 1.5, true, true}) == "refuted");    // BN's range is narrower
    CHECK(init_scale_verdict({2.5, 1.0, true, true}) == "depends");    // wider, but short of 3 decades
    CHECK(init_scale_verdict({4.0, 2.0, true, false}) == "depends");   // no BN survives large scales
    CHECK(init_scale_verdict({NAN, NAN, true, true}) == "refuted");
}

TEST_CASE("clearly smaller with BN needs a 1.5x mean ratio and a CI above 1", "[claims][verdict]") {
    CHECK(clearly_smaller_with_bn(std::vector<double>{1.8, 2.1, 1.7}));
    CHECK_FALSE(clearly_smaller_with_bn(std::vector<double>{1.2, 1.3, 1.25}));  // consistent but small
    CHECK_FALSE(clearly_smaller_with_bn(std::vector<double>{0.8, 4.0, 1.9}));   // big mean, one seed the other way
    CHECK_FALSE(clearly_smaller_with_bn(std::vector<double>{1.0, 0.98, 1.03}));  // arms that do not differ
    CHECK_FALSE(clearly_smaller_with_bn(std::vector<double>{}));
}

TEST_CASE("the gradients verdict can say refuted, depends and confirmed", "[claims][verdict]") {
    const std::vector<double> same{1.0, 0.97, 1.04}, smaller{2.5, 3.1, 2.2};
    SmoothnessFindings f{same, same, same, same, 2.0, 1.5};
    CHECK(gradients_verdict(f).first == "refuted");  // arms that do not differ: never confirmed
    f = {smaller, smaller, smaller, smaller, 2.0, 1.5};
    CHECK(gradients_verdict(f).first == "confirmed");
    f.deep_bn_first_over_last = 250;  // Yang et al.: the deep BN MLP explodes at initialization
    const auto deep = gradients_verdict(f);
    CHECK(deep.first == "depends");
    CHECK_THAT(deep.second, Catch::Contains("initialization") && Catch::Contains("250 with BN"));
    f = {smaller, same, smaller, same, 2.0, 1.5};
    const auto partial = gradients_verdict(f);
    CHECK(partial.first == "depends");
    CHECK_THAT(partial.second, Catch::Contains("not: gradient change"));
}

TEST_CASE("gap at a training accuracy: interpolated on the fit curve, NaN when never reached",
          "[claims][verdict]") {
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

TEST_CASE("the regularization verdict can say refuted, depends and confirmed", "[claims][verdict]") {
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

TEST_CASE("the batch-size verdict can say refuted, depends and confirmed", "[claims][verdict]") {
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

TEST_CASE("the inference verdict can say refuted, depends and confirmed", "[claims][verdict]") {
    CHECK(inference_verdict({0.0, 30, 40, 35, 0.5}).first == "confirmed");
    CHECK(inference_verdict({0.0, 1, 2, 0.5, 0.5}).first == "refuted");   // nothing collapses
    CHECK(inference_verdict({0.8, 30, 40, 35, 0.5}).first == "refuted");  // eval mode depends on the batch
    const auto partial = inference_verdict({0.0, 30, 2, 35, -0.4});
    CHECK(partial.first == "depends");
    CHECK_THAT(partial.second, Catch::Contains("class-sorted") && Catch::Contains("PreciseBN"));
}

TEST_CASE("placement: effect against 2x the pooled seed std, and its verdict", "[claims][verdict]") {
    const std::vector<double> high{0.70, 0.71, 0.72}, low{0.65, 0.66, 0.67};
    const PlacementEffect better = placement_effect(high, low);
    CHECK(better.difference == Approx(0.05));
    CHECK(better.pooled_std == Approx(0.01));  // both stds 0.01
    CHECK(better.ci.low == Approx(0.05));      // every paired difference is 0.05
    CHECK(placement_verdict(better) == "confirmed");
    CHECK(placement_verdict(placement_effect(low, high)) == "refuted");
    // Arms that do not differ beyond seed noise: Δ = 0.0033, 2σ = 0.03.
    const std::vector<double> a{0.70, 0.72, 0.68}, b{0.71, 0.69, 0.69};
    const PlacementEffect none = placement_effect(a, b);
    CHECK(none.difference == Approx(0.01 / 3));
    CHECK(none.pooled_std == Approx(std::sqrt((0.0004 + 0.0004 / 3) / 2)));  // variances 0.0004 and 0.0004/3
    CHECK(placement_verdict(none) == "depends");
    CHECK(placement_verdict(placement_effect(a, a)) == "depends");  // identical: 0 > 0 is false
    CHECK(placement_verdict(placement_effect(a, std::vector<double>{})) == "depends");  // no numbers
}

TEST_CASE("the covariate-shift verdict can say refuted, depends and confirmed", "[claims][verdict]") {
    // Ioffe holds (BN flat, baseline drifts) and noisy BN trains worse: confirmed.
    CovariateShiftFindings f{.drift_none = 1.6, .drift_bn = 0.2, .accuracy_bn = 97.8, .accuracy_noisy_bn = 95.0,
                             .ics_none = 0.05, .ics_noisy_bn = 0.4};
    CHECK(covariate_shift_verdict(f).first == "confirmed");
    // Noisy BN as accurate as BN with more ICS than the baseline: Santurkar, so it depends.
    f.accuracy_noisy_bn = 97.5;
    const auto santurkar = covariate_shift_verdict(f);
    CHECK(santurkar.first == "depends");
    CHECK_THAT(santurkar.second, Catch::Contains("not why BN helps"));
    // Arms that do not differ in drift: refuted, whatever else.
    f = {.drift_none = 0.7, .drift_bn = 0.7, .accuracy_bn = 97.8, .accuracy_noisy_bn = 95.0, .ics_none = 0.05, .ics_noisy_bn = 0.01};
    CHECK(covariate_shift_verdict(f).first == "refuted");
    // BN steadier, but neither threshold met.
    f.drift_bn = 0.6;
    CHECK(covariate_shift_verdict(f).first == "depends");
}
