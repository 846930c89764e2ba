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
// A killed run never leaves a mix of two runs in DIR (the rule readers rely on): DIR is
// always either the previous finished run (or nothing) or the new finished run.
//   1. the run is written into a fresh staging folder beside DIR, staging_dir(DIR) =
//      DIR.partial (a stale one, left by a killed run, is removed first), marked with
//      run.incomplete (kRunIncompleteMarker: load_model refuses a model in it);
//   2. config.json, metrics.csv, train.log and the checkpoints are written there as the run
//      goes (follow DIR.partial/train.log to watch a run; RunRecorder(Resume, DIR, ...) continues a
//      stopped run from DIR.partial/checkpoint.safetensors, in DIR.partial);
//   3. finish() writes model.safetensors, removes the marker, and swaps the staging folder
//      with DIR in one atomic renameat2(RENAME_EXCHANGE) (a plain rename when DIR does not
//      exist yet); the previous run, now at DIR.partial, is then removed.
// Every file is written atomically and fsynced (core/atomic_file.h), and so are the folders.
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
    // Creates DIR's parents and a fresh staging folder staging_dir(DIR) for a new run.
    // `echo` receives every log line too (e.g. to print it).
    RunRecorder(std::string dir, const Trainer& trainer, std::function<void(const std::string&)> echo = nullptr);

    // Continues the stopped run in staging_dir(DIR) whose checkpoint `trainer` was restored from
    // (at trainer.step()): keeps its train.log and the metrics.csv rows up to that step (rows written after the
    // checkpoint, by the run that was interrupted, are dropped: the resumed run writes them again).
    struct Resume {};
    RunRecorder(Resume, std::string dir, const Trainer& trainer, std::function<void(const std::string&)> echo = nullptr);

    void on_row(const MetricsRow& row) override;
    void log(const std::string& line);
    // Writes model.safetensors and the closing log line ("finished ..." or "diverged at step k"),
    // then puts the finished run in place at DIR (step 3 above).
    void finish(const RunResult& result, Trainer& trainer);

    // DIR, where the run is once finished.
    const std::string& dir() const { return final_dir_; }
    const std::vector<MetricsRow>& rows() const { return rows_; }

private:
    void write_metrics() const;
    void mark_incomplete() const;  // writes run.incomplete in the staging folder

    std::string final_dir_, dir_;  // DIR, and the staging folder written until finish()
    std::vector<std::string> grad_names_;
    std::vector<MetricsRow> rows_;
    std::string log_;
    bool diverged_ = false;
    std::function<void(const std::string&)> echo_;
};

// Where a run into DIR is written until it finishes: "DIR.partial".
std::string staging_dir(const std::string& run_dir);

// The CSV text of metrics rows (the header names the gradient-norm columns).
std::string metrics_csv(const std::vector<MetricsRow>& rows, const std::vector<std::string>& grad_names,
                        int64_t diverged_at = -1);
// The rows of metrics_csv() text, as written (to its printed precision). Error naming `source`
// for text that is not metrics_csv's with these gradient-norm columns.
std::vector<MetricsRow> metrics_rows(const std::string& csv, const std::vector<std::string>& grad_names,
                                     const std::string& source);

}  // namespace bnlab
