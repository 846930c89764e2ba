#include "experiments/claims/records.h"

#include <cmath>

#include "core/json_integer.h"

namespace bnlab::claims {

nlohmann::json number_json(double v) {
    if (std::isnan(v)) return nullptr;
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    return v;
}

double number_from_json(const nlohmann::json& j) {
    if (j.is_null()) return NAN;
    if (j.is_string()) return j.get<std::string>() == "-inf" ? -INFINITY : INFINITY;
    return j.get<double>();
}

nlohmann::json numbers_json(const std::vector<double>& values) {
    nlohmann::json out = nlohmann::json::array();
    for (double v : values) out.push_back(number_json(v));
    return out;
}

std::vector<double> numbers_from_json(const nlohmann::json& j) {
    std::vector<double> out;
    for (const auto& v : j) out.push_back(number_from_json(v));
    return out;
}

// A row as [step, epoch, lr, train_loss, train_accuracy, test_loss, test_accuracy, wall_seconds, [grad_norms]].
nlohmann::json metrics_rows_json(const std::vector<MetricsRow>& rows) {
    nlohmann::json out = nlohmann::json::array();
    for (const MetricsRow& r : rows) {
        out.push_back({r.step, number_json(r.epoch), number_json(r.lr), number_json(r.train_loss),
                       number_json(r.train_accuracy), number_json(r.test_loss), number_json(r.test_accuracy),
                       number_json(r.wall_seconds), numbers_json(r.grad_norms)});
    }
    return out;
}

std::vector<MetricsRow> metrics_rows_from_json(const nlohmann::json& j) {
    std::vector<MetricsRow> rows;
    for (const auto& r : j) {
        MetricsRow row;
        row.step = json_integer<int64_t>(r.at(0));
        row.epoch = number_from_json(r.at(1));
        row.lr = number_from_json(r.at(2));
        row.train_loss = number_from_json(r.at(3));
        row.train_accuracy = number_from_json(r.at(4));
        row.test_loss = number_from_json(r.at(5));
        row.test_accuracy = number_from_json(r.at(6));
        row.wall_seconds = number_from_json(r.at(7));
        row.grad_norms = numbers_from_json(r.at(8));
        rows.push_back(std::move(row));
    }
    return rows;
}

}  // namespace bnlab::claims
