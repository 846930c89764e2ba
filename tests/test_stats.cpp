// Statistics the claims decide with, against hand-computed values: mean, std, median, bootstrap
// intervals, steps to a target with censoring, and effects over paired seeds.
#include <catch2/catch.hpp>
#include <cmath>

#include "experiments/claims/paired_seeds.h"
#include "experiments/claims/report.h"
#include "experiments/stats.h"

using namespace bnlab;
using namespace bnlab::claims;

namespace {

PairedEffect effect(std::vector<double> per_seed) { return paired_effect(per_seed); }

}  // namespace

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

TEST_CASE("paired effects: mean and bootstrap interval over seeds", "[claims][stats]") {
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
