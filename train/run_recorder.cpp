#include "train/run_recorder.h"

#include <fmt/format.h>

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "train/model_file.h"

namespace bnlab {

namespace {
std::string number(double v) { return std::isnan(v) ? "nan" : fmt::format("{:.6g}", v); }

std::string read_text_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot read it (is this a run directory?)");
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}
}  // namespace

std::string metrics_csv(const std::vector<MetricsRow>& rows, const std::vector<std::string>& grad_names,
                        int64_t diverged_at) {
    std::string out = "step,epoch,lr,train_loss,train_accuracy,test_loss,test_accuracy,wall_seconds,status";
    for (const auto& name : grad_names) {
        out += ",grad_norm.";
        out += name;
    }
    out += "\n";
    for (const MetricsRow& r : rows) {
        out += fmt::format("{},{:.4f},{},{},{},{},{},{:.3f},{}", r.step, r.epoch, number(r.lr), number(r.train_loss),
                           number(r.train_accuracy), number(r.test_loss), number(r.test_accuracy), r.wall_seconds,
                           r.step == diverged_at ? "diverged" : "ok");
        for (double g : r.grad_norms) {
            out += ',';
            out += number(g);
        }
        out += "\n";
    }
    return out;
}

std::vector<MetricsRow> metrics_rows(const std::string& csv, const std::vector<std::string>& grad_names,
                                     const std::string& source) {
    std::istringstream in(csv);
    std::string line;
    std::getline(in, line);
    if (line + "\n" != metrics_csv({}, grad_names))
        throw Error(source + ": not the metrics of this run (its header is not '" + line + "')");
    const auto value = [&](const std::string& cell) { return cell == "nan" ? NAN : std::stod(cell); };
    std::vector<MetricsRow> rows;
    for (int64_t number = 2; std::getline(in, line); ++number) {
        std::vector<std::string> cells;
        std::istringstream fields(line);
        for (std::string cell; std::getline(fields, cell, ',');) cells.push_back(cell);
        if (cells.size() != 9 + grad_names.size())
            throw Error(fmt::format("{}:{}: {} columns, expected {}", source, number, cells.size(), 9 + grad_names.size()));
        try {
            MetricsRow r{.step = std::stoll(cells[0]), .epoch = value(cells[1]), .lr = value(cells[2]),
                         .train_loss = value(cells[3]), .train_accuracy = value(cells[4]), .test_loss = value(cells[5]),
                         .test_accuracy = value(cells[6]), .wall_seconds = value(cells[7])};
            for (size_t k = 9; k < cells.size(); ++k) r.grad_norms.push_back(value(cells[k]));
            rows.push_back(std::move(r));
        } catch (const std::logic_error&) {  // stoll/stod: not a number
            throw Error(fmt::format("{}:{}: not a row of numbers: {}", source, number, line));
        }
    }
    return rows;
}

std::string checkpoint_path(const std::string& run_dir) { return run_dir + "/checkpoint.safetensors"; }

void RunRecorder::mark_incomplete() const {
    write_text_atomically(dir_ + "/" + kRunIncompleteMarker,
                          "This run has not finished (it is still going, or it was stopped): its files may mix two\n"
                          "runs. bnlab removes this file when the run finishes.\n");
}

RunRecorder::RunRecorder(std::string dir, const Trainer& trainer, std::function<void(const std::string&)> echo)
    : dir_(std::move(dir)), grad_names_(trainer.grad_norm_names()), echo_(std::move(echo)) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) throw Error(dir_ + ": cannot create the run directory: " + ec.message());
    mark_incomplete();
    std::filesystem::remove(dir_ + "/model.safetensors", ec);
    if (ec) throw Error(dir_ + "/model.safetensors: cannot remove the previous run's model: " + ec.message());
    std::filesystem::remove(checkpoint_path(dir_), ec);
    if (ec) throw Error(checkpoint_path(dir_) + ": cannot remove the previous run's checkpoint: " + ec.message());
    write_text_atomically(dir_ + "/config.json", to_json(trainer.config()).dump(2) + "\n");
    write_metrics();
}

RunRecorder::RunRecorder(Resume, std::string dir, const Trainer& trainer, std::function<void(const std::string&)> echo)
    : dir_(std::move(dir)), grad_names_(trainer.grad_norm_names()), echo_(std::move(echo)) {
    mark_incomplete();  // still there from the interrupted run; a resumed run is unfinished too
    const std::string metrics = dir_ + "/metrics.csv";
    for (MetricsRow& row : metrics_rows(read_text_file(metrics), grad_names_, metrics))
        if (row.step <= trainer.step()) rows_.push_back(std::move(row));
    log_ = read_text_file(dir_ + "/train.log");
    write_metrics();
}

void RunRecorder::write_metrics() const {
    const int64_t diverged_at = diverged_ && !rows_.empty() ? rows_.back().step : -1;
    write_text_atomically(dir_ + "/metrics.csv", metrics_csv(rows_, grad_names_, diverged_at));
}

void RunRecorder::on_row(const MetricsRow& row) {
    rows_.push_back(row);
    write_metrics();
    log(fmt::format("step {} epoch {:.2f}: train loss {} acc {}, test loss {} acc {}, lr {}, {:.1f}s", row.step, row.epoch,
                    number(row.train_loss), number(row.train_accuracy), number(row.test_loss), number(row.test_accuracy),
                    number(row.lr), row.wall_seconds));
}

void RunRecorder::log(const std::string& line) {
    log_ += line + "\n";
    write_text_atomically(dir_ + "/train.log", log_);
    if (echo_) echo_(line);
}

void RunRecorder::finish(const RunResult& result, Trainer& trainer) {
    if (result.diverged) {
        diverged_ = true;
        write_metrics();
        log(fmt::format("diverged at step {}: the loss is not finite (NaN or infinite)", result.diverged_at));
    } else {
        log(fmt::format("finished {} steps in {:.1f}s: test accuracy {:.4f}, test loss {:.4f}", result.steps,
                        result.wall_seconds, result.last.test_accuracy, result.last.test_loss));
    }
    // Written after a divergence too: the weights show where it went wrong.
    save_model(dir_ + "/model.safetensors", trainer.saved_model());
    const std::string marker = dir_ + "/" + kRunIncompleteMarker;
    if (::unlink(marker.c_str()) != 0 && errno != ENOENT)
        throw Error(marker + ": cannot remove the marker of an unfinished run: " + std::strerror(errno));
    sync_directory(dir_);
}

}  // namespace bnlab
