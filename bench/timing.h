// Timing for shared, noisy machines (benchmarks only; tests never time anything).
//
// A measurement warms up, then runs several windows of repeated calls and keeps the best
// window: other processes only ever make a window slower, so the fastest one is the closest
// to what the code costs. The median window says how stable that is (spread).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace bnlab::bench {

struct Timing {
    double best = 0, median = 0;  // seconds per call: the fastest window, the median window
    int64_t calls_per_window = 0;
    double spread() const { return best > 0 ? median / best - 1.0 : 0.0; }
};

struct TimingOptions {
    int windows = 5;
    double window_seconds = 0.3;  // each window repeats the call at least this long (at least once)
    double warmup_seconds = 0.3;  // and at least 2 calls
};

inline double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Calls f() through the warm-up; `after_warmup()` runs once before the windows (e.g. to
// reset a profiler). Returns seconds per call.
template <class F, class G>
Timing time_windows(F&& f, const TimingOptions& o, G&& after_warmup) {
    using Clock = std::chrono::steady_clock;
    const Clock::time_point warm_start = Clock::now();
    int64_t warm_calls = 0;
    double last_call = 0;
    while (warm_calls < 2 || seconds_since(warm_start) < o.warmup_seconds) {
        const Clock::time_point start = Clock::now();
        f();
        last_call = seconds_since(start);
        ++warm_calls;
    }
    Timing t;
    t.calls_per_window = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(o.window_seconds / std::max(last_call, 1e-9))));
    after_warmup();
    std::vector<double> per_call;
    for (int w = 0; w < o.windows; ++w) {
        const Clock::time_point start = Clock::now();
        for (int64_t i = 0; i < t.calls_per_window; ++i) f();
        per_call.push_back(seconds_since(start) / static_cast<double>(t.calls_per_window));
    }
    std::sort(per_call.begin(), per_call.end());
    t.best = per_call.front();
    t.median = per_call[per_call.size() / 2];
    return t;
}

template <class F>
Timing time_windows(F&& f, const TimingOptions& o) {
    return time_windows(std::forward<F>(f), o, [] {});
}

// "a,b,,c" -> {"a", "b", "c"}: the benchmarks' comma-separated list options.
inline std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    for (size_t start = 0; start <= s.size();) {
        const size_t end = std::min(s.find(',', start), s.size());
        if (end > start) out.push_back(s.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

}  // namespace bnlab::bench
