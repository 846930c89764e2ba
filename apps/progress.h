// Console progress for training: a live bar on a terminal, plain log lines otherwise.
#pragma once

#include <chrono>
#include <string>

#include "train/trainer.h"

namespace bnlab::cli {

class ConsoleProgress : public TrainObserver {
public:
    // Rows are forwarded to `next` (the run recorder, which logs them).
    ConsoleProgress(TrainObserver& next, std::string label);
    void on_step(const StepProgress& p) override;
    void on_row(const MetricsRow& row) override;
    // Prints a log line, first clearing the bar on a terminal.
    void print(const std::string& line);

private:
    TrainObserver& next_;
    std::string label_;
    bool tty_;
    bool bar_shown_ = false;
    int64_t last_plain_step_ = 0;
    std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace bnlab::cli
