#include "experiments/claims/sweep.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/json_integer.h"
#include "train/evaluate.h"
#include "experiments/claims/records.h"
#include "experiments/stats.h"

namespace bnlab::claims {

std::vector<double> half_decade_grid(double first, double last) {
    if (!(first > 0) || !(last >= first)) throw Error(fmt::format("half_decade_grid: bad range {} .. {}", first, last));
    std::vector<double> grid;
    const auto lowest = static_cast<int>(std::floor(std::log10(first))) - 1;
    const auto highest = static_cast<int>(std::ceil(std::log10(last))) + 1;
    for (int e = lowest; e <= highest; ++e)
        for (const double mantissa : {1.0, 3.0}) {
            const double x = mantissa * std::pow(10.0, e);
            if (x >= first * (1 - 1e-9) && x <= last * (1 + 1e-9)) grid.push_back(x);
        }
    return grid;
}

std::vector<double> logspace(double from_exponent, double to_exponent, int points) {
    if (points < 2) throw Error(fmt::format("logspace: need at least 2 points, got {}", points));
    std::vector<double> out;
    for (int i = 0; i < points; ++i)
        out.push_back(std::pow(10.0, from_exponent + (to_exponent - from_exponent) * i / (points - 1)));
    return out;
}

void LossWatch::on_step(const StepProgress& p) {
    if (p.step == 1) initial_loss_ = p.loss;  // computed with the initial weights
    curve_sum_ += p.loss;
    if (++curve_count_ == curve_every_) {
        MetricsRow point;
        point.step = p.step;
        point.train_loss = curve_sum_ / curve_count_;
        curve_.push_back(point);
        curve_sum_ = 0;
        curve_count_ = 0;
    }
    if (!rule_) return;
    recent_.push_back(p.loss);
    if (recent_.size() > static_cast<size_t>(rule_->window)) recent_.pop_front();
    if (diverged_at_ || p.step < rule_->after_steps) return;
    double mean = 0;
    for (double l : recent_) mean += l;
    mean /= static_cast<double>(recent_.size());
    if (mean > initial_loss_) diverged_at_ = p.step;  // NaN losses compare false: the Trainer stops those
}

namespace {

// What train_and_test measured beyond a run's metrics.csv, kept beside it (RUN/sweep.json) so
// that a resumed claim run reads the outcome back instead of training the run again
// (records.h: doubles round-trip exactly). With its rows, the same JSON is what spread() sends.
constexpr const char* kSweepRecord = "sweep.json";

nlohmann::json sweep_run_json(const SweepRun& run, bool with_rows) {
    nlohmann::json curve = nlohmann::json::array();
    for (const MetricsRow& p : run.loss_curve) curve.push_back({p.step, number_json(p.train_loss)});
    nlohmann::json record{{"diverged", run.diverged},
                          {"divergence", run.divergence},
                          {"validation_accuracy", number_json(run.validation_accuracy)},
                          {"test_accuracy", number_json(run.test_accuracy)},
                          {"last_evaluated", number_json(run.last_evaluated)},
                          {"loss_curve", curve}};
    if (with_rows) record["rows"] = metrics_rows_json(run.rows);
    return record;
}

SweepRun sweep_run_from_json(const std::string& name, const nlohmann::json& j) {
    SweepRun run{name,
                 j.at("diverged").get<bool>(),
                 j.at("divergence").get<std::string>(),
                 number_from_json(j.at("validation_accuracy")),
                 number_from_json(j.at("test_accuracy")),
                 number_from_json(j.at("last_evaluated")),
                 j.contains("rows") ? metrics_rows_from_json(j.at("rows")) : std::vector<MetricsRow>{},
                 {}};
    for (const auto& point : j.at("loss_curve")) {
        MetricsRow row;
        row.step = json_integer<int64_t>(point.at(0));
        row.train_loss = number_from_json(point.at(1));
        run.loss_curve.push_back(row);
    }
    return run;
}

void write_sweep_record(const std::string& run_dir, const SweepRun& run) {
    write_text_atomically(run_dir + "/" + kSweepRecord, sweep_run_json(run, false).dump(1) + "\n");
}

// The record of a run that finished with the same settings, with its metrics rows; nullopt when
// resuming is off, the run is not finished or has no record (it is trained again).
std::optional<SweepRun> read_sweep_record(const ClaimContext& ctx, const std::string& run_name, const TrainConfig& config) {
    const std::filesystem::path path = std::filesystem::path(ctx.runs_dir()) / run_name / kSweepRecord;
    if (!ctx.options().reuse_finished_runs || !std::filesystem::exists(path)) return std::nullopt;
    try {
        SweepRun run = sweep_run_from_json(run_name, nlohmann::json::parse(std::ifstream(path)));
        // The record parsed: now the run itself (same config, finished), which logs the reuse.
        const auto finished = ctx.finished_run(run_name, config);
        if (!finished) return std::nullopt;
        run.rows = finished->rows;
        return run;
    } catch (const nlohmann::json::exception&) {
        return std::nullopt;  // not a record bnlab wrote whole: train the run again
    } catch (const JsonIntegerError&) {
        return std::nullopt;  // the same (a step that is not an integer)
    }
}

}  // namespace

SweepRun train_and_test(ClaimContext& ctx, const std::string& run_name, const TrainConfig& config,
                        const ClaimData& data, std::optional<DivergenceRule> divergence) {
    if (auto saved = read_sweep_record(ctx, run_name, config)) return *saved;
    // About 10 or more points on the loss curve: a point per 20 steps, fewer for short runs.
    const int64_t steps = config.steps > 0 ? config.steps : config.epochs * (data.train.size() / config.batch_size);
    LossWatch watch(divergence, static_cast<int>(std::clamp<int64_t>(steps / 10, 1, 20)));
    TrainedRun run = ctx.train(run_name, config, data.train, data.validation, &watch);
    SweepRun out;
    out.name = run_name;
    out.rows = run.rows;
    out.loss_curve = watch.curve();
    for (const MetricsRow& r : run.rows)
        if (!std::isnan(r.test_accuracy)) out.last_evaluated = r.test_accuracy;  // rows are on validation
    if (run.result.diverged) {
        out.diverged = true;
        out.divergence = fmt::format("non-finite loss at step {}", run.result.diverged_at);
    } else if (watch.diverged_at()) {
        out.diverged = true;
        out.divergence = fmt::format("loss above its initial {:.3f} from step {} on (stopped at step {})",
                                     watch.initial_loss(), *watch.diverged_at(), run.result.steps);
    }
    if (out.diverged) {
        ctx.log(fmt::format("  {}: diverged: {}", run_name, out.divergence));
        write_sweep_record(run.dir, out);
        return out;
    }
    out.validation_accuracy = run.result.last.test_accuracy;  // the Trainer's "test" rows are on validation
    // Batches of 25 (eval mode: the same numbers as any batch): evaluate() allocates every
    // layer's output for the whole batch, and outside a training run's MemoryPool every buffer
    // over 32 MB (glibc's mmap threshold) is fresh pages each batch (cifar-cnn's first
    // activation at 500 CIFAR images is 65 MB). Measured on one thread (2026-11-25, when conv
    // still ran im2col over the whole batch): 0.9 ms per image at 25, 6 at 50, 12 at 500.
    constexpr int64_t kTestBatch = 25;
    out.test_accuracy =
        evaluate(run.trainer->model(), data.test, 0, kTestBatch, data.train.mean, data.train.std).accuracy;
    write_sweep_record(run.dir, out);
    return out;
}

std::vector<SweepRun> train_and_test_all(ClaimContext& ctx, const std::vector<SweepJob>& jobs, const ClaimData& data,
                                         std::optional<DivergenceRule> divergence) {
    const std::vector<nlohmann::json> results = ctx.spread(jobs.size(), [&](size_t i) {
        return sweep_run_json(train_and_test(ctx, jobs[i].name, jobs[i].config, data, divergence), true);
    });
    std::vector<SweepRun> runs;
    for (size_t i = 0; i < jobs.size(); ++i) runs.push_back(sweep_run_from_json(jobs[i].name, results[i]));
    return runs;
}

std::vector<double> values(std::span<const SweepRun> runs, double SweepRun::*field) {
    std::vector<double> out;
    for (const SweepRun& r : runs) out.push_back(r.*field);
    return out;
}

int diverged_count(std::span<const SweepRun> runs) {
    return static_cast<int>(std::count_if(runs.begin(), runs.end(), [](const SweepRun& r) { return r.diverged; }));
}

double Band::decades(std::span<const double> xs) const {
    return found ? std::log10(xs[last] / xs[first]) : NAN;
}

Band band_around_best(std::span<const double> scores, double tolerance) {
    Band band;
    for (size_t i = 0; i < scores.size(); ++i)
        if (!std::isnan(scores[i]) && (!band.found || scores[i] > band.best_score)) {
            band.found = true;
            band.best = i;
            band.best_score = scores[i];
        }
    if (!band.found) return band;
    // NaN compares false, so a NaN point ends the band.
    const auto good = [&](size_t i) { return scores[i] >= band.best_score - tolerance; };
    band.first = band.last = band.best;
    while (band.first > 0 && good(band.first - 1)) --band.first;
    while (band.last + 1 < scores.size() && good(band.last + 1)) ++band.last;
    return band;
}

std::vector<double> GridSweep::mean_validation(std::optional<double> diverged_as) const {
    std::vector<double> means;
    for (const auto& seeds : runs) {
        std::vector<double> accuracies;
        for (const SweepRun& r : seeds) accuracies.push_back(r.diverged ? diverged_as.value_or(NAN) : r.validation_accuracy);
        means.push_back(mean_of(accuracies));
    }
    return means;
}

Curve GridSweep::validation_curve(std::span<const double> xs) const {
    std::vector<std::vector<double>> per_point;
    for (const auto& seeds : runs) per_point.push_back(values(seeds, &SweepRun::validation_accuracy));
    return points_curve(label, xs, per_point);
}

std::string GridSweep::validation_cell(size_t i, const Band& band) const {
    std::vector<double> finite;
    for (double a : values(runs[i], &SweepRun::validation_accuracy))
        if (!std::isnan(a)) finite.push_back(a);
    const int diverged = diverged_count(runs[i]);
    std::string cell = finite.empty() ? "diverged" : mean_std_ci(finite, 100, 2);
    if (diverged > 0 && !finite.empty()) cell += fmt::format(" ({}/{} diverged)", diverged, runs[i].size());
    return band.found && i >= band.first && i <= band.last ? "**" + cell + "**" : cell;
}

Curve loss_curve(const std::string& label, std::span<const SweepRun> runs) {
    std::vector<const std::vector<MetricsRow>*> curves;
    for (const SweepRun& r : runs) curves.push_back(&r.loss_curve);
    return band_curve(label, curves, &MetricsRow::train_loss);
}

std::string loss_plot_markdown(const ClaimContext& ctx, const std::string& name, const std::string& title,
                               std::vector<Curve> curves, bool log_y) {
    const PlotSpec spec{title, "step", "training loss (mean of 20 steps)", std::move(curves), log_y, "top right"};
    return figure(ctx.dir(), name, spec,
                         "Each point: the mean loss of the last 20 steps (fewer in quick runs); mean over seeds, band: "
                         "min to max; a curve ends where its runs stopped.");
}

std::string validation_plot_markdown(const ClaimContext& ctx, const std::string& name, const std::string& title,
                                     const std::string& x_label, std::span<const double> xs,
                                     std::initializer_list<const GridSweep*> arms, const std::string& key,
                                     const std::string& caption) {
    PlotSpec spec{title, x_label, "validation accuracy", {}, false, key};
    spec.log_x = true;
    for (const GridSweep* arm : arms) {
        spec.curves.push_back(arm->validation_curve(xs));
        for (size_t i = 0; i < arm->runs.size() && i < xs.size(); ++i)
            if (diverged_count(arm->runs[i]) > 0) spec.markers.emplace_back(xs[i], 0.1);  // 10 classes: chance
    }
    if (spec.markers.empty()) return figure(ctx.dir(), name, spec, caption);
    spec.markers_label = "a seed diverged here (drawn at chance, 0.1)";
    return figure(ctx.dir(), name, spec, caption + " A red cross at chance accuracy marks each point where a seed diverged.");
}

double best_lr_on_validation(ClaimContext& ctx, const std::string& label, const std::vector<double>& grid,
                             const std::function<TrainConfig(double lr)>& config_at, const ClaimData& data,
                             Table& table) {
    // Final validation accuracy per rate, -1 where the run diverged; the rates spread over the ranks.
    const std::vector<nlohmann::json> accuracies = ctx.spread(grid.size(), [&](size_t i) {
        const std::string name = fmt::format("sweep-{}-lr{}", label, grid[i]);
        const TrainConfig config = config_at(grid[i]);
        double accuracy = -1;
        if (const auto done = ctx.finished_run(name, config)) {  // a resumed claim run: its last row decides
            if (!done->diverged && !done->rows.empty()) accuracy = done->rows.back().test_accuracy;
        } else if (const TrainedRun run = ctx.train(name, config, data.train, data.validation); !run.result.diverged) {
            accuracy = run.result.last.test_accuracy;
        }
        return number_json(accuracy);
    });
    double best_lr = grid.front(), best = -1;
    for (size_t i = 0; i < grid.size(); ++i) {
        const double accuracy = number_from_json(accuracies[i]);
        table.rows.push_back({label, number(grid[i], 4), accuracy < 0 ? "diverged" : number(100 * accuracy, 2) + "%"});
        if (accuracy > best) {
            best = accuracy;
            best_lr = grid[i];
        }
    }
    return best_lr;
}

std::string grid_label(double x) { return fmt::format("{:.3g}", x); }

}  // namespace bnlab::claims
