// Regime maps: where along an axis a claim holds.
//
// A claim's effect changes along an axis its sources name (depth for convergence, the number
// of values each BatchNorm statistic averages over for small batches, ...). A claim measures
// its verdict at each point of that axis, per family of models (e.g. "mlp", "plain-cnn"), and
// summarizes the series as a map: "confirmed for depth >= 8 (3.1x [2.2, 4.0]), refuted for
// depth <= 4". The overall verdict follows from the maps by one rule every claim shares:
// confirmed if it holds at every point tested, refuted if at none, "depends" otherwise, with
// the boundary named.
#pragma once

#include <span>
#include <string>
#include <vector>

namespace bnlab::claims {

struct RegimePoint {
    double x = 0;          // the axis value (a depth, a number of values per statistic, ...)
    std::string verdict;   // confirmed | refuted | depends at this point
    std::string effect;    // the number behind it, e.g. "3.1x [2.2, 4.0]"; may be empty
    // A categorical axis (e.g. the activation): the point's name, shown instead of x; x then
    // only orders the points.
    std::string label;
};

// One family of models along one axis, its points in increasing x.
struct RegimeSeries {
    std::string family;  // e.g. "mlp (ReLU, width 100)"
    std::string axis;    // e.g. "depth": how x is named in the text
    std::vector<RegimePoint> points;
};

// The series as text, its points grouped into contiguous stretches of one verdict:
//   "confirmed for depth >= 8 (8: 2.9x [2.1, 3.5]; 16: 5.0x [3.3, inf]), refuted for depth <= 4"
//   "confirmed at every point tested (depth 2-16)"
// A middle stretch reads "depends for depth 4-8". Effects are quoted for confirmed points. On a
// categorical axis (points with labels) a stretch lists its points: "refuted for activation
// relu, tanh".
std::string describe_series(const RegimeSeries& series);

// Where the claim holds, for an index column: each family's confirmed stretch, e.g.
// "mlp: depth >= 8; resnet20 (depth 20)"; "at no point tested" if no point is confirmed.
std::string where_it_holds(std::span<const RegimeSeries> series);

// Confirmed if every point of every series is confirmed, refuted if every point is refuted,
// "depends" otherwise.
std::string overall_verdict(std::span<const RegimeSeries> series);

}  // namespace bnlab::claims
