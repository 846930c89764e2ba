// Row-major sgemm on the kernels core/cpu.h chose: OpenBLAS (portable) or BLIS (avx512)
// (internal to core/ops).
#pragma once

#include <cblas.h>
#include <omp.h>

#include <atomic>
#include <cstdint>

#include "core/cpu.h"
#include "core/ops/blis_gemm.h"
#include "core/parallel.h"

namespace bnlab::detail {

// Products smaller than this many multiply-adds (about 0.1 ms on one core) run on one
// thread: waking a second one costs more than it saves, and much more on a busy machine.
inline constexpr int64_t kGemmParallelMin = int64_t{1} << 22;

// One OpenBLAS call on this thread. (OpenBLAS's OpenMP build runs single-threaded inside a
// parallel region or when omp_get_max_threads() is 1; outside one, it is set to 1 for the
// call.)
inline void openblas_gemm_on_this_thread(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                                         const float* A, int lda, const float* B, int ldb, float beta, float* C,
                                         int ldc) {
    const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (threads > 1) omp_set_num_threads(1);
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), alpha, A, lda, B, ldb, beta, C, ldc);
    if (threads > 1) omp_set_num_threads(threads);
}

// Which library runs the products. Kernels::avx512 is BLIS, portable is OpenBLAS; tests also
// run BLIS with its own configuration on CPUs without AVX-512 (ScopedGemmLibrary), so the
// BLIS path is checked on every machine.
enum class GemmLibrary { openblas, blis };

// The override of ScopedGemmLibrary, or -1: follow kernels().
inline std::atomic<int>& gemm_library_override() {
    static std::atomic<int> value{-1};
    return value;
}

// For tests and benchmarks: every product made in this scope runs on `library`, whatever
// kernels() says (BLIS then runs in the configuration it picks for this CPU).
struct ScopedGemmLibrary {
    explicit ScopedGemmLibrary(GemmLibrary library) { gemm_library_override().store(static_cast<int>(library)); }
    ~ScopedGemmLibrary() { gemm_library_override().store(-1); }
    ScopedGemmLibrary(const ScopedGemmLibrary&) = delete;
    ScopedGemmLibrary& operator=(const ScopedGemmLibrary&) = delete;
};

// The library of the next product: the override, else the kernels in use.
inline GemmLibrary gemm_library() {
    const int forced = gemm_library_override().load();
    if (forced >= 0) return static_cast<GemmLibrary>(forced);
    return kernels() == Kernels::avx512 ? GemmLibrary::blis : GemmLibrary::openblas;
}

// C (M,N) = alpha * op(A) op(B) + beta * C, all row-major with leading dimensions of
// their stored widths. trans_a: A is stored (K,M) and used transposed; trans_b: B is
// stored (N,K). beta = 1 adds into C (how backward passes accumulate into gradients).
//
// Threads: bnlab splits C into one block per thread, each computed by a single-threaded
// sgemm: blocks of rows when C is taller than wide, of columns otherwise (each thread packs
// only its part of the other operand: a 32 x 1024 product split into rows packed all of B
// twice). Small products, and calls from inside a parallel region (conv2d's per-image loop),
// are one call on this thread. The libraries' own threading is never used: OpenBLAS's made
// small products (a batch x 10 classifier) slower, not faster, on 2 cores; and with fixed
// blocks the bits depend only on the thread count.
//
// A Gemm picks its library when it is made: make it outside parallel regions (conv2d does,
// before its per-image loop), because kernels() throws on a bad BNLAB_KERNELS and an
// exception cannot leave an OpenMP region.
struct Gemm {
    GemmLibrary library = gemm_library();

    void on_this_thread(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                        int lda, const float* B, int ldb, float beta, float* C, int ldc) const {
        if (library == GemmLibrary::blis)
            blis_gemm_on_this_thread(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        else
            openblas_gemm_on_this_thread(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    }

    void operator()(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                    const float* B, float beta, float* C) const {
        const int lda = static_cast<int>(trans_a ? M : K), ldb = static_cast<int>(trans_b ? K : N);
        const int ldc = static_cast<int>(N);
        if (M * N * K < kGemmParallelMin) {
            on_this_thread(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        } else if (M >= N) {
            parallel_for(M, N * K, [&](int64_t m0, int64_t m1) {
                if (m1 == m0) return;
                const float* a = trans_a ? A + m0 : A + m0 * K;  // rows m0.. of op(A)
                on_this_thread(trans_a, trans_b, m1 - m0, N, K, alpha, a, lda, B, ldb, beta, C + m0 * N, ldc);
            });
        } else {
            parallel_for(N, M * K, [&](int64_t n0, int64_t n1) {
                if (n1 == n0) return;
                const float* b = trans_b ? B + n0 * K : B + n0;  // columns n0.. of op(B)
                on_this_thread(trans_a, trans_b, M, n1 - n0, K, alpha, A, lda, b, ldb, beta, C + n0, ldc);
            });
        }
    }
};

// One product on the kernels in use (outside parallel regions: see Gemm).
inline void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 const float* B, float beta, float* C) {
    Gemm{}(trans_a, trans_b, M, N, K, alpha, A, B, beta, C);
}

}  // namespace bnlab::detail
