// RunRecorder: writes a training run's directory as the run goes.
//
//   DIR/config.json        the TrainConfig
//   DIR/metrics.csv        one row per evaluation: step, epoch, lr, train/test loss and
//                          accuracy, wall seconds, status (ok | diverged), per-parameter
//                          gradient norms (grad_norm.<parameter name>)
//   DIR/train.log          every log line of the run
//   DIR/model.safetensors  the final model (a PyTorch state_dict + bnlab metadata)
// Every file is rewritten atomically (temp + rename) whenever it changes, so an
// interrupted run leaves complete files describing everything up to the last row.
//
// A killed run never passes for a finished one (the rule readers rely on):
//   1. before anything else the recorder writes DIR/run.incomplete (kRunIncompleteMarker)
//      and removes a previous run's model.safetensors;
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

class RunRecorder : public TrainObserver {
public:
    // Creates DIR (and parents). `echo` receives every log line too (e.g. to print it).
    RunRecorder(std::string dir, const Trainer& trainer, std::function<void(const std::string&)> echo = nullptr);

    void on_row(const MetricsRow& row) override;
    void log(const std::string& line);
    // Writes model.safetensors and the closing log line ("finished ..." or "diverged at step k"),
    // then marks the run finished (removes run.incomplete).
    void finish(const RunResult& result, Trainer& trainer);

    const std::string& dir() const { return dir_; }
    const std::vector<MetricsRow>& rows() const { return rows_; }

private:
    void write_metrics() const;

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

}  // namespace bnlab
