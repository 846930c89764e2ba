// RunRecorder: writes a training run's directory as the run goes.
//
//   DIR/config.json        the TrainConfig
//   DIR/metrics.csv        one row per evaluation: step, epoch, lr, train/test loss and
//                          accuracy, wall seconds, status (ok | diverged), per-parameter
//                          gradient norms (grad_norm.<parameter name>)
//   DIR/train.log          every log line of the run
//   DIR/model.safetensors  the final model (a PyTorch state_dict + bnlab metadata)
//   DIR/checkpoint.safetensors  the latest training checkpoint, where the Trainer writes one
//                          (CheckpointPolicy; checkpoint_path() names it)
// Every file is rewritten atomically (temp + rename) whenever it changes, so an
// interrupted run leaves complete files describing everything up to the last row.
//
// A killed run never passes for a finished one (the rule readers rely on):
//   1. before anything else the recorder writes DIR/run.incomplete (kRunIncompleteMarker)
//      and removes a previous run's model.safetensors and checkpoint.safetensors (a resumed
//      run writes the marker again and keeps the checkpoint it continues from);
//   2. it writes config.json, metrics.csv, train.log as the run goes;
//   3. finish() writes model.safetensors, then removes the marker.
// So DIR is either the previous finished run (a kill before step 1 completed), a run marked
// incomplete (a kill in between: load_model refuses it, naming the marker), or the new
// finished run. Each step is atomic and fsynced (core/atomic_file.h).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "train/trainer.h"

namespace bnlab {

// DIR/checkpoint.safetensors.
std::string checkpoint_path(const std::string& run_dir);

class RunRecorder : public TrainObserver {
public:
    // Creates DIR (and parents) for a new run; a previous run's checkpoint there is removed.
    // `echo` receives every log line too (e.g. to print it).
    RunRecorder(std::string dir, const Trainer& trainer, std::function<void(const std::string&)> echo = nullptr);

    // Continues the run in DIR whose checkpoint `trainer` was restored from (at trainer.step()):
    // keeps DIR's train.log and the metrics.csv rows up to that step (rows written after the
    // checkpoint, by the run that was interrupted, are dropped: the resumed run writes them again).
    struct Resume {};
    RunRecorder(Resume, std::string dir, const Trainer& trainer, std::function<void(const std::string&)> echo = nullptr);

    void on_row(const MetricsRow& row) override;
    void log(const std::string& line);
    // Writes model.safetensors and the closing log line ("finished ..." or "diverged at step k"),
    // then marks the run finished (removes run.incomplete).
    void finish(const RunResult& result, Trainer& trainer);

    const std::string& dir() const { return dir_; }
    const std::vector<MetricsRow>& rows() const { return rows_; }

private:
    void write_metrics() const;
    void mark_incomplete() const;  // writes DIR/run.incomplete

    std::string dir_;
    std::vector<std::string> grad_names_;
    std::vector<MetricsRow> rows_;
    std::string log_;
    bool diverged_ = false;
    std::function<void(const std::string&)> echo_;
};

// The CSV text of metrics rows (the header names the gradient-norm columns).
std::string metrics_csv(const std::vector<MetricsRow>& rows, const std::vector<std::string>& grad_names,
                        int64_t diverged_at = -1);
// The rows of metrics_csv() text, as written (to its printed precision). Error naming `source`
// for text that is not metrics_csv's with these gradient-norm columns.
std::vector<MetricsRow> metrics_rows(const std::string& csv, const std::vector<std::string>& grad_names,
                                     const std::string& source);

}  // namespace bnlab
