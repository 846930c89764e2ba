// Thread count for everything bnlab computes: OpenBLAS's sgemm and bnlab's own OpenMP loops.
// Results depend only on the seed and the thread count: every parallel loop splits its
// work into fixed, disjoint pieces, and reductions across threads happen in a fixed order.
#pragma once

#include <omp.h>

#include <cstdint>
#include <string_view>

namespace bnlab {

// n >= 1. Sets OpenBLAS's and OpenMP's thread counts together. (BLIS, the avx512 kernels'
// sgemm, is always called on one thread: core/ops/blas.h splits the products itself.)
void set_num_threads(int n);
int num_threads();

// The thread count a run uses when none is given: the cores this process may run on
// (sched_getaffinity) that no other process is keeping busy right now, at least 1. On a
// shared machine, threads beyond the idle cores make every parallel loop wait for a thread the
// scheduler has parked behind another process (measured: 3-20x slower than one thread with a
// CPU-bound neighbour on one of 2 cores). Read once per call, from a few samples of
// /proc/stat's procs_running over about 10 ms (the least, minus this process's own runnable
// thread); where /proc/stat cannot be read, every allowed core.
int default_threads();
// The count from the numbers behind it (exposed for tests): `allowed` cores and the least
// number of runnable tasks seen, this process's sampling thread among them.
int idle_cores(int allowed, int least_runnable);
// procs_running from the text of /proc/stat; -1 if it is not there.
int procs_running(std::string_view proc_stat);

// The most threads a run may ask for. More than the cores only adds contention, and a huge
// count makes OpenBLAS allocate a buffer per thread (under a memory limit it then spins
// forever): 1024 covers every machine bnlab runs on.
inline constexpr int kMaxThreads = 1024;

// Below this many elements touched, a loop runs on the calling thread: waking the other
// threads costs a few microseconds, more than a small tensor's whole loop.
inline constexpr int64_t kParallelMinWork = int64_t{1} << 16;

// Splits [0, n) into one contiguous range per thread and runs body(begin, end) on each:
// in parallel when n * work_per_item reaches kParallelMinWork, on this thread otherwise (and
// inside another parallel region). The ranges depend only on n and the thread count.
template <class Body>
void parallel_for(int64_t n, int64_t work_per_item, Body&& body) {
    if (n * work_per_item < kParallelMinWork || omp_get_max_threads() == 1 || omp_in_parallel()) {
        body(int64_t{0}, n);
        return;
    }
#pragma omp parallel
    {
        const int64_t t = omp_get_thread_num(), threads = omp_get_num_threads();
        body(n * t / threads, n * (t + 1) / threads);
    }
}

}  // namespace bnlab
