// Trainer: one training run, step by step, the same way for `bnlab train`, `compare` and
// every claim experiment.
//
// A step: next batch -> lr from the schedule -> zero_grad -> forward under a Tape ->
// cross-entropy -> backward -> optional gradient clipping -> optimizer step. Every
// `eval_every` steps (default: once per epoch) the model is evaluated on the test split in
// eval mode and a MetricsRow is reported. A NaN or infinite loss ends the run as diverged.
//
// Determinism: the model's initial weights come from config.seed (per layer, see
// models/zoo.h), the batch order from config.seed (data/loader.h); with the same thread
// count two runs are bit-identical, and a run resumed from a checkpoint continues exactly
// as if it had never stopped.
#pragma once

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/loader.h"
#include "train/config.h"
#include "train/data_parallel.h"
#include "train/evaluate.h"
#include "train/metrics.h"
#include "train/model_file.h"
#include "layers/module.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"

namespace bnlab {

// When run() writes a checkpoint (Trainer::save_checkpoint) to `path`: after every
// `every_steps` steps (0: not by count) and, with `every_epoch`, at the end of every epoch.
// Each is written after that step's evaluation row, so a run resumed from it repeats nothing
// and skips nothing. An empty path: no checkpoints.
struct CheckpointPolicy {
    std::string path;
    int64_t every_steps = 0;
    bool every_epoch = true;
};

class Trainer {
public:
    // `train` and `test` must outlive the trainer. Validates the config (Error on bad fields).
    // With `group` (which must outlive the trainer and have config.ranks ranks): data-parallel
    // training (train/data_parallel.h). Each rank takes its shard of every global batch of
    // config.batch_size; the weights start from rank 0's; the metrics every rank reports are
    // the global batch's, and every rank evaluates the (identical) model on the whole test split.
    // Writing files is the caller's business: only rank 0 should.
    Trainer(TrainConfig config, const Dataset& train, const Dataset& test, Collective* group = nullptr);
    ~Trainer();

    // Trains until total_steps() (or `stop_at` steps, if smaller and > 0), reporting to observer.
    RunResult run(TrainObserver& observer, int64_t stop_at = 0);

    int64_t step() const { return step_; }
    int64_t total_steps() const { return total_steps_; }
    int64_t steps_per_epoch() const { return steps_per_epoch_; }
    const TrainConfig& config() const { return config_; }
    const InputSpec& input() const { return input_; }
    Sequential& model() { return *model_; }
    Optimizer& optimizer() { return *optimizer_; }
    // The data-parallel machinery, or nullptr for a single-process run.
    const DataParallel* data_parallel() const { return parallel_.get(); }
    std::vector<std::string> grad_norm_names() const;
    // The model with what `bnlab eval` and `predict` need to use it (classes, normalization).
    SavedModel saved_model() const;

    // Everything needed to continue exactly: model, optimizer, random generators, the step
    // and the running metric sums. Written atomically.
    void save_checkpoint(const std::string& path) const;
    // Restores a checkpoint written by a run with the same config (Error otherwise).
    void load_checkpoint(const std::string& path);
    // Checkpoints written during run() (none by default).
    void set_checkpointing(CheckpointPolicy policy) { checkpoint_ = std::move(policy); }

private:
    MetricsRow make_row(double wall_seconds);
    bool stop_requested(TrainObserver& observer);
    bool checkpoint_due() const;  // after the step just completed

    TrainConfig config_;
    const Dataset& train_;
    const Dataset& test_;
    InputSpec input_;
    std::shared_ptr<Sequential> model_;
    std::unique_ptr<Optimizer> optimizer_;
    std::unique_ptr<Schedule> schedule_;
    std::unique_ptr<DataLoader> loader_;
    std::unique_ptr<DataParallel> parallel_;
    int64_t steps_per_epoch_ = 0, total_steps_ = 0, eval_every_ = 0;
    int64_t step_ = 0;
    int64_t loader_epoch_ = -1;
    // Sums over the steps since the last row.
    double window_loss_ = 0;
    int64_t window_correct_ = 0, window_samples_ = 0, window_steps_ = 0;
    double wall_offset_ = 0;   // wall seconds of the run before a resume
    double wall_seconds_ = 0;  // wall seconds so far, as of the last completed step (checkpointed)
    CheckpointPolicy checkpoint_;
};

// One training step on `batch`, the Trainer's (and the benchmarks'): zero_grad, forward under
// a Tape, cross-entropy, backward, gradient clipping when clip_norm > 0, optimizer step.
// A loss that is not finite returns at once, leaving the parameters untouched. `predicted`,
// if given, receives each row's argmax. With a Profiler active, the zero_grad, clipping and
// update count as "optimizer".
// With `parallel`, `batch` is this rank's shard: the loss, samples and correct returned are the
// global batch's, and the gradients are summed over the ranks before clipping and the step.
struct StepResult {
    float loss = 0;                  // mean over the (global) batch
    int64_t samples = 0, correct = 0;
};
StepResult train_step(Module& model, Optimizer& optimizer, const Batch& batch, double clip_norm,
                      DataParallel* parallel, std::vector<int32_t>* predicted = nullptr);
// The same on one process, returning the loss.
float train_step(Module& model, Optimizer& optimizer, const Batch& batch, double clip_norm = 0,
                 std::vector<int32_t>* predicted = nullptr);

// The per-parameter L2 norms of the gradients (0 for a parameter without one).
std::vector<double> grad_norms(Module& model);

}  // namespace bnlab
