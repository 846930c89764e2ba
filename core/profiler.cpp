#include "core/profiler.h"

#include <fmt/format.h>

#include <cstring>

#include "core/memory_pool.h"

namespace bnlab {

namespace {
// Which profiler this thread's ops report to (like the active tape: one pointer per thread).
thread_local Profiler* active_profiler = nullptr;
}  // namespace

Profiler::Profiler() : previous_(active_profiler) {
    active_profiler = this;
    reset();
}

Profiler::~Profiler() {
    if (active_profiler == this) active_profiler = previous_;
}

Profiler* Profiler::active() { return active_profiler; }

Profiler::Pause::Pause()
    : paused_(active_profiler), start_(Clock::now()), fresh_at_start_(MemoryPool::active_stats().fresh) {
    active_profiler = nullptr;
}

Profiler::Pause::~Pause() {
    active_profiler = paused_;
    if (!paused_) return;
    // Shift the open step's start by the pause, so neither its time nor its buffers count.
    paused_->step_start_ += Clock::now() - start_;
    paused_->fresh_at_step_start_ += MemoryPool::active_stats().fresh - fresh_at_start_;
}

void Profiler::reset() {
    for (OpTime& t : ops_) t = OpTime{t.op};  // keep the entries: no allocation in later steps
    steps_ = 0;
    step_seconds_ = 0;
    fresh_per_step_.clear();
    fresh_at_step_start_ = MemoryPool::active_stats().fresh;
    step_start_ = Clock::now();
}

void Profiler::end_step() {
    const Clock::time_point now = Clock::now();
    step_seconds_ += std::chrono::duration<double>(now - step_start_).count();
    step_start_ = now;
    ++steps_;
    const int64_t fresh = MemoryPool::active_stats().fresh;
    fresh_per_step_.push_back(fresh - fresh_at_step_start_);
    fresh_at_step_start_ = fresh;
}

void Profiler::add(const char* op, bool backward, double seconds) {
    // A handful of op names: a linear search beats a map, and allocates only on first sight.
    OpTime* t = nullptr;
    for (OpTime& o : ops_)
        if (o.op == op || std::strcmp(o.op, op) == 0) t = &o;
    if (!t) t = &ops_.emplace_back(OpTime{op});
    (backward ? t->backward_seconds : t->forward_seconds) += seconds;
    ++(backward ? t->backward_calls : t->forward_calls);
}

std::string Profiler::report() const {
    const double steps = static_cast<double>(std::max<int64_t>(steps_, 1));
    const double total = std::max(step_seconds_, 1e-12);
    std::string out = fmt::format("{:<20} {:>10} {:>10} {:>7}\n", "op", "fwd ms", "bwd ms", "share");
    double timed = 0;
    for (const OpTime& t : ops_) {
        const double seconds = t.forward_seconds + t.backward_seconds;
        timed += seconds;
        out += fmt::format("{:<20} {:>10.3f} {:>10.3f} {:>6.1f}%\n", t.op, 1e3 * t.forward_seconds / steps,
                           1e3 * t.backward_seconds / steps, 100 * seconds / total);
    }
    out += fmt::format("{:<20} {:>21.3f} {:>6.1f}%\n", "(untimed)", 1e3 * (step_seconds_ - timed) / steps,
                       100 * (step_seconds_ - timed) / total);
    out += fmt::format("{:<20} {:>21.3f} ms per step over {} steps; fresh buffers in the last step: {}\n", "step",
                       1e3 * step_seconds_ / steps, steps_, fresh_per_step_.empty() ? 0 : fresh_per_step_.back());
    return out;
}

ProfileScope::ProfileScope(const char* op, Phase phase) : profiler_(active_profiler), op_(op), phase_(phase) {
    if (!profiler_) return;
    parent_child_seconds_ = profiler_->enclosing_child_seconds_;
    profiler_->enclosing_child_seconds_ = &child_seconds_;
    start_ = Profiler::Clock::now();
}

ProfileScope::~ProfileScope() {
    if (!profiler_) return;
    const double seconds = std::chrono::duration<double>(Profiler::Clock::now() - start_).count();
    profiler_->enclosing_child_seconds_ = parent_child_seconds_;
    if (parent_child_seconds_) *parent_child_seconds_ += seconds;
    profiler_->add(op_, phase_ == kBackward, seconds - child_seconds_);
}

}  // namespace bnlab
