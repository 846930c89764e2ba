// Line plots with min-max bands, drawn by gnuplot (Debian's gnuplot-nox) into PNG files.
// The data (.dat) and the gnuplot script (.gp) stay beside the PNG, so anyone can re-plot.
#pragma once

#include <cmath>
#include <span>
#include <utility>
#include <string>
#include <vector>

namespace bnlab {

struct Curve {
    std::string label;
    std::vector<double> x, mean, low, high;  // one point per x; low..high is the shaded band
};

struct PlotSpec {
    std::string title, xlabel, ylabel;
    std::vector<Curve> curves;
    bool log_y = false;
    std::string key = "bottom right";  // gnuplot legend position
    bool log_x = false;
    // false: lines with a distinct point shape per curve and no bands (for many curves, whose
    // overlapping bands would hide each other).
    bool bands = true;
    // A dashed horizontal line at y = reference_y (e.g. a target accuracy), titled reference_label.
    double reference_y = NAN;
    std::string reference_label;
    // Points drawn as crosses on top of the curves (e.g. runs that diverged), titled markers_label.
    std::vector<std::pair<double, double>> markers;
    std::string markers_label;
};

// The curve with every y (mean, low, high) multiplied by `factor`, e.g. 100 for percent.
Curve scaled(Curve curve, double factor);

// Mean and min-max over runs of one metric at each evaluated step (steps where the metric is
// finite), e.g. band_curve("bn", runs, &MetricsRow::test_accuracy).
struct MetricsRow;
Curve band_curve(const std::string& label, const std::vector<const std::vector<MetricsRow>*>& runs,
                 double MetricsRow::*field);

// The same for series measured outside MetricsRow (e.g. probes every K steps): runs[r][i] is
// run r's value at x[i]; non-finite values and values past a run's end are left out.
Curve band_curve(const std::string& label, const std::vector<double>& x, const std::vector<std::vector<double>>& runs);

// A curve over a swept value (a grid of learning rates, batch sizes, ...): per_point[i] holds the
// runs' values at x[i] (one per seed), times `scale`; non-finite values are left out, and a
// point with none is left out of the curve.
Curve points_curve(const std::string& label, std::span<const double> x, const std::vector<std::vector<double>>& per_point,
                   double scale = 1.0);

// Writes DIR/NAME.dat, DIR/NAME.gp and DIR/NAME.png (atomically). Returns "" on success,
// else why no PNG was made (gnuplot missing or failing); the .dat and .gp are written anyway.
std::string plot_bands(const std::string& dir, const std::string& name, const PlotSpec& spec);

}  // namespace bnlab
