#include "core/parallel.h"

#include <cblas.h>
#include <omp.h>

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "core/error.h"

namespace bnlab {

void set_num_threads(int n) {
    if (n < 1) throw Error("set_num_threads: need at least 1 thread, got " + std::to_string(n));
    openblas_set_num_threads(n);
    omp_set_num_threads(n);
}

int num_threads() { return omp_get_max_threads(); }

int procs_running(std::string_view proc_stat) {
    constexpr std::string_view kKey = "\nprocs_running ";
    const size_t at = proc_stat.find(kKey);
    if (at == std::string_view::npos) return -1;
    int count = -1;
    std::istringstream(std::string(proc_stat.substr(at + kKey.size(), 16))) >> count;
    return count;
}

int idle_cores(int allowed, int least_runnable) {
    const int others = std::max(0, least_runnable - 1);  // the sampling thread is runnable itself
    return std::clamp(allowed - others, 1, std::max(1, allowed));
}

namespace {

int allowed_cores() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace

int default_threads() {
    const int allowed = allowed_cores();
    int least = -1;
    for (int sample = 0; sample < 5; ++sample) {
        if (sample > 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        std::ifstream file("/proc/stat");
        const std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
        const int running = procs_running("\n" + text);
        if (running < 0) return allowed;  // no /proc: every allowed core
        least = least < 0 ? running : std::min(least, running);
    }
    return idle_cores(allowed, least);
}

}  // namespace bnlab
