// Profiler: where the time of a training step goes, op by op.
//
//   Profiler profiler;              // active on this thread until it goes out of scope
//   for (...) { train_step(...); profiler.end_step(); }
//   std::fputs(profiler.report().c_str(), stdout);
//
// Every op opens `const ProfileScope profile("conv2d");` at the top of its forward, and
// Tape::backward times each entry's closure under the entry's op name, so the profile has
// a forward and a backward time per op. The Trainer adds "data" (waiting for the batch)
// and "optimizer" (zero_grad + step). Times are wall-clock seconds on the calling thread;
// an op's OpenMP and OpenBLAS workers run inside its scope. A scope opened inside another
// (an op called by an op) is subtracted from the outer one, so every second is counted once.
//
// Off costs nothing: with no active profiler a ProfileScope is one thread-local pointer
// check, and no clock is read.
//
// end_step() also reads the active MemoryPool's count of fresh buffers, so a profile shows
// whether the steady-state step still allocates (it should not: core/memory_pool.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace bnlab {

class Profiler {
public:
    struct OpTime {
        const char* op;  // the op's name as it records on the tape, e.g. "conv2d"
        double forward_seconds = 0, backward_seconds = 0;
        int64_t forward_calls = 0, backward_calls = 0;
    };

    Profiler();   // becomes this thread's active profiler
    ~Profiler();  // the previously active one (or none) becomes active again
    Profiler(const Profiler&) = delete;
    Profiler& operator=(const Profiler&) = delete;

    static Profiler* active();

    // Stops profiling on this thread for a scope (e.g. an evaluation pass between training
    // steps): nothing is recorded, and the scope's time is left out of the step it falls in.
    class Pause {
    public:
        Pause();
        ~Pause();
        Pause(const Pause&) = delete;
        Pause& operator=(const Pause&) = delete;

    private:
        Profiler* paused_;
        std::chrono::steady_clock::time_point start_;
        int64_t fresh_at_start_;
    };

    // Closes a step: counts it, adds the wall time since the previous end_step (or reset),
    // and records how many fresh buffers the active MemoryPool handed out during it.
    void end_step();
    // Forgets everything measured so far (e.g. the warm-up steps) and restarts the clock.
    void reset();

    int64_t steps() const { return steps_; }
    double step_seconds() const { return step_seconds_; }  // wall time of all counted steps
    const std::vector<OpTime>& ops() const { return ops_; }  // in order of first appearance
    // Fresh MemoryPool buffers per counted step (0 without an active pool).
    const std::vector<int64_t>& fresh_per_step() const { return fresh_per_step_; }

    // A table: per op, forward and backward milliseconds per step and the share of the step;
    // "(untimed)" is the rest of the step (tape bookkeeping, the caller's own code).
    std::string report() const;

private:
    friend class ProfileScope;
    using Clock = std::chrono::steady_clock;
    void add(const char* op, bool backward, double seconds);

    std::vector<OpTime> ops_;
    int64_t steps_ = 0;
    double step_seconds_ = 0;
    Clock::time_point step_start_;
    int64_t fresh_at_step_start_ = 0;
    std::vector<int64_t> fresh_per_step_;
    double* enclosing_child_seconds_ = nullptr;  // the innermost open scope's child time
    Profiler* previous_;
};

// Times its own lifetime into the active profiler under `op` (a string literal: the
// profiler keeps the pointer). Does nothing, and reads no clock, when none is active.
class ProfileScope {
public:
    enum Phase : bool { kForward = false, kBackward = true };
    explicit ProfileScope(const char* op, Phase phase = kForward);
    ~ProfileScope();
    ProfileScope(const ProfileScope&) = delete;
    ProfileScope& operator=(const ProfileScope&) = delete;

private:
    Profiler* profiler_;
    const char* op_;
    Phase phase_;
    Profiler::Clock::time_point start_;
    double child_seconds_ = 0;  // time of scopes nested inside this one
    double* parent_child_seconds_ = nullptr;
};

}  // namespace bnlab
