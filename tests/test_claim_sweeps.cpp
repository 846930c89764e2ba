// Sweeps over a grid on hand-computed inputs: the grids, the band around the best, the loss
// watch that declares divergence, grid sweeps with diverged runs, and the curves they plot.
#include <catch2/catch.hpp>
#include <cmath>

#include "experiments/claims/sweep.h"
#include "experiments/plot.h"
#include "claims_test_util.h"

using namespace bnlab;
using namespace bnlab::claims;

TEST_CASE("grids: half decades and logspace", "[claims][sweep]") {
    const std::vector<double> lr = half_decade_grid(1e-3, 10);
    REQUIRE(lr.size() == 9);
    const std::vector<double> expected{1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1, 3, 10};
    for (size_t i = 0; i < lr.size(); ++i) CHECK(lr[i] == Approx(expected[i]));
    CHECK(half_decade_grid(0.03, 0.3).size() == 3);  // 0.03, 0.1, 0.3
    const std::vector<double> scales = logspace(-4, 0, 9);
    REQUIRE(scales.size() == 9);
    CHECK(scales.front() == Approx(1e-4));
    CHECK(scales[1] == Approx(std::pow(10.0, -3.5)));
    CHECK(scales.back() == Approx(1.0));
    CHECK(grid_label(0.003) == "0.003");
    CHECK(grid_label(std::pow(10.0, -1.25)) == "0.0562");
    CHECK_THROWS(logspace(0, 1, 1));
}

TEST_CASE("band around the best: contiguous, tolerance, NaN ends it", "[claims][sweep]") {
    // best 0.85 at index 2; 0.84 and 0.845 are within 0.01; 0.849 at index 5 is too, but
    // 0.70 at index 4 breaks the band.
    const std::vector<double> scores{0.50, 0.84, 0.85, 0.845, 0.70, 0.849};
    const Band b = band_around_best(scores, 0.01);
    REQUIRE(b.found);
    CHECK(b.best == 2);
    CHECK(b.first == 1);
    CHECK(b.last == 3);
    CHECK(b.points() == 3);
    const std::vector<double> xs = half_decade_grid(1e-3, 0.3);  // 1e-3 .. 0.3, 6 points
    CHECK(b.decades(xs) == Approx(std::log10(0.03 / 0.003)));
    // A diverged setting (NaN) is never in a band and cuts it.
    const std::vector<double> gap{0.85, NAN, 0.85};
    CHECK(band_around_best(gap, 0.01).points() == 1);
    const std::vector<double> nothing{NAN, NAN};
    CHECK_FALSE(band_around_best(nothing, 0.01).found);
    CHECK(band_around_best(nothing, 0.01).points() == 0);
}

TEST_CASE("loss watch: divergence = loss above the initial loss after 200 steps, over a 20-step mean", "[claims][sweep]") {
    const auto feed = [](LossWatch& watch, int64_t steps, const auto& loss_at) {
        for (int64_t s = 1; s <= steps; ++s) watch.on_step({s, steps, 0, loss_at(s), 0, 0.1, 0, 0});
    };
    LossWatch learning(DivergenceRule{200, 20});
    feed(learning, 400, [](int64_t s) { return 2.3 / (1 + 0.01 * static_cast<double>(s)); });
    CHECK_FALSE(learning.diverged_at());
    CHECK(learning.initial_loss() == Approx(2.3 / 1.01));

    // Climbing above the initial loss at step 100: flagged at the first check, step 200.
    LossWatch climbing(DivergenceRule{200, 20});
    feed(climbing, 400, [](int64_t s) { return s < 100 ? 2.3 : 3.0; });
    CHECK(climbing.diverged_at() == 200);
    CHECK(climbing.stop_requested());

    // One spiky batch at step 250 does not lift the 20-step mean above 2.3.
    LossWatch spike(DivergenceRule{200, 20});
    feed(spike, 400, [](int64_t s) { return s == 1 ? 2.3 : (s == 250 ? 10.0 : 1.0); });
    CHECK_FALSE(spike.diverged_at());

    // Climbing late (step 300): flagged once the 20-step mean passes the initial loss.
    LossWatch late(DivergenceRule{200, 20});
    feed(late, 400, [](int64_t s) { return s == 1 ? 2.3 : (s < 300 ? 1.0 : 5.0); });
    REQUIRE(late.diverged_at());
    CHECK(*late.diverged_at() > 300);
    CHECK(*late.diverged_at() < 320);

    // Without a rule nothing diverges; the curve holds the mean of every 20 steps.
    LossWatch curve_only;
    feed(curve_only, 45, [](int64_t s) { return s <= 20 ? 3.0 : 1.0; });
    CHECK_FALSE(curve_only.stop_requested());
    REQUIRE(curve_only.curve().size() == 2);
    CHECK(curve_only.curve()[0].step == 20);
    CHECK(curve_only.curve()[0].train_loss == 3.0);
    CHECK(curve_only.curve()[1].step == 40);
    CHECK(curve_only.curve()[1].train_loss == 1.0);
}

TEST_CASE("grid sweeps: means with diverged runs, cells, curves", "[claims][sweep]") {
    const auto run = [](double validation, bool diverged = false) {
        SweepRun r;
        r.diverged = diverged;
        r.validation_accuracy = diverged ? NAN : validation;
        r.test_accuracy = r.validation_accuracy;
        return r;
    };
    GridSweep sweep{"bn", {{run(0.8), run(0.9)}, {run(0.7), run(0, true)}}};
    const std::vector<double> strict = sweep.mean_validation();
    CHECK(strict[0] == Approx(0.85));
    CHECK(std::isnan(strict[1]));
    CHECK(sweep.mean_validation(0.1)[1] == Approx(0.4));  // (0.7 + 0.1) / 2
    const Band band = band_around_best(strict, 0.01);
    CHECK_THAT(sweep.validation_cell(0, band), Catch::StartsWith("**85.00 ± 7.07 ["));
    CHECK_THAT(sweep.validation_cell(1, band), Catch::StartsWith("70.00 ± 0.00") && Catch::EndsWith("(1/2 diverged)"));
    const std::vector<double> xs{0.01, 0.1};
    const Curve c = sweep.validation_curve(xs);
    CHECK(c.x == xs);
    CHECK(c.low[0] == Approx(0.8));
    CHECK(c.high[0] == Approx(0.9));
    CHECK(c.mean[1] == Approx(0.7));  // the diverged seed is left out of the curve
}

TEST_CASE("points curves: mean and min..max per x, NaN left out", "[claims]") {
    const std::vector<double> x{2, 4, 8};
    const Curve c = points_curve("bn", x, {{0.1, 0.3}, {NAN, 0.5}, {NAN}}, 100);
    REQUIRE(c.x == std::vector<double>{2, 4});  // x = 8 has no finite value
    CHECK(c.mean[0] == Approx(20));
    CHECK(c.low[0] == Approx(10));
    CHECK(c.high[0] == Approx(30));
    CHECK(c.mean[1] == Approx(50));
}

TEST_CASE("a log axis narrower than two decades gets labels between the decades", "[claims][plot]") {
    test::TempDir dir;
    PlotSpec narrow{"loss", "step", "loss", {{"a", {1, 2, 3}, {2.3, 1.0, 0.6}, {2.3, 1.0, 0.6}, {2.3, 1.0, 0.6}}}};
    narrow.log_y = true;
    plot_bands(dir.path().string(), "narrow", narrow);
    const std::string script = test::read_text(dir.path() / "narrow.gp");
    CHECK_THAT(script, Catch::Contains("set logscale y") && Catch::Contains("set ytics (0.7, 1, 1.5, 2)"));
    // Over more than two decades gnuplot's own decade labels are enough.
    PlotSpec wide = narrow;
    wide.curves[0].mean = wide.curves[0].low = wide.curves[0].high = {1000, 10, 0.5};
    plot_bands(dir.path().string(), "wide", wide);
    const std::string wide_script = test::read_text(dir.path() / "wide.gp");
    CHECK_THAT(wide_script, Catch::Contains("set logscale y"));
    CHECK_THAT(wide_script, !Catch::Contains("ytics ("));
}
