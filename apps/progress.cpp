#include "apps/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace bnlab::cli {

namespace {
std::string duration(double seconds) {
    const auto s = static_cast<int64_t>(std::max(seconds, 0.0));
    return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60) : fmt::format("{}:{:02}", s / 60, s % 60);
}
}  // namespace

ConsoleProgress::ConsoleProgress(TrainObserver& next, std::string label)
    : next_(next), label_(std::move(label)), tty_(isatty(fileno(stdout)) != 0) {}

void ConsoleProgress::on_step(const StepProgress& p) {
    next_.on_step(p);
    const double eta = p.samples_per_second > 0 && p.step > 0
                           ? p.wall_seconds / static_cast<double>(p.step) * static_cast<double>(p.total_steps - p.step)
                           : 0.0;
    const std::string stats = fmt::format("epoch {} step {}/{} loss {:.4f} acc {:.1f}% {:.0f} img/s ETA {}", p.epoch + 1,
                                          p.step, p.total_steps, p.loss, 100 * p.accuracy, p.samples_per_second,
                                          duration(eta));
    if (tty_) {
        const auto now = std::chrono::steady_clock::now();
        if (p.step != p.total_steps && now - last_draw_ < std::chrono::milliseconds(200)) return;
        last_draw_ = now;
        constexpr int kWidth = 24;
        const auto filled = static_cast<int>(kWidth * p.step / std::max<int64_t>(p.total_steps, 1));
        std::printf("\r\033[K%s [%s%s] %s", label_.c_str(), std::string(static_cast<size_t>(filled), '#').c_str(),
                    std::string(static_cast<size_t>(kWidth - filled), '.').c_str(), stats.c_str());
        std::fflush(stdout);
        bar_shown_ = true;
    } else if (p.step - last_plain_step_ >= std::max<int64_t>(p.total_steps / 10, 1)) {
        // Not a terminal (a log file, CI): a line every 10% of the run.
        last_plain_step_ = p.step;
        print(label_ + " " + stats);
    }
}

void ConsoleProgress::on_row(const MetricsRow& row) { next_.on_row(row); }

void ConsoleProgress::print(const std::string& line) {
    if (bar_shown_) std::printf("\r\033[K");
    bar_shown_ = false;
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
}

}  // namespace bnlab::cli
