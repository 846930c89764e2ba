// Records: a run's measurements as JSON, exactly. What ClaimContext::spread sends between
// ranks and what a resumed claim run reads back from a run's folder. Every double round-trips:
// finite values as numbers (nlohmann writes the shortest exact form), NaN as null, infinities
// as "inf" / "-inf".
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "train/metrics.h"

namespace bnlab::claims {

nlohmann::json number_json(double v);
double number_from_json(const nlohmann::json& j);

nlohmann::json numbers_json(const std::vector<double>& values);
std::vector<double> numbers_from_json(const nlohmann::json& j);

nlohmann::json metrics_rows_json(const std::vector<MetricsRow>& rows);
std::vector<MetricsRow> metrics_rows_from_json(const nlohmann::json& j);

}  // namespace bnlab::claims
