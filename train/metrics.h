// What a training run reports: a row of metrics per evaluation, progress per step, the
// result at the end, and the observer that receives them. Kept apart from the Trainer so
// statistics and plots (experiments/) read metrics without knowing how they were made.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

namespace bnlab {

struct MetricsRow {
    int64_t step = 0;
    double epoch = 0;  // fractional: steps / steps_per_epoch
    double lr = 0;
    double train_loss = NAN, train_accuracy = NAN;  // averaged over the steps since the last row
    double test_loss = NAN, test_accuracy = NAN;
    double wall_seconds = 0;
    std::vector<double> grad_norms;  // one per parameter, in Trainer::grad_norm_names() order
};

// Progress of one step, for progress bars.
struct StepProgress {
    int64_t step, total_steps, epoch;
    double loss, accuracy, lr, samples_per_second, wall_seconds;
};

class TrainObserver {
public:
    virtual ~TrainObserver() = default;
    virtual void on_step(const StepProgress&) {}
    virtual void on_row(const MetricsRow&) {}
    // Asked after every row: true ends the run there (e.g. once a target is reached).
    virtual bool stop_requested() const { return false; }
};

struct RunResult {
    bool diverged = false;
    int64_t diverged_at = -1;  // the step whose loss was not finite
    int64_t steps = 0;         // steps completed
    MetricsRow last;           // the last row reported
    double wall_seconds = 0;
};

}  // namespace bnlab
