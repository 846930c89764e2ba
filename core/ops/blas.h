// Row-major sgemm through OpenBLAS (internal to core/ops).
#pragma once

#include <cblas.h>

#include <cstdint>

#include "core/parallel.h"

namespace bnlab::detail {

// C (M,N) = alpha * op(A) op(B) + beta * C, all row-major with leading dimensions of
// their stored widths. trans_a: A is stored (K,M) and used transposed; trans_b: B is
// stored (N,K). beta = 1 adds into C (how backward passes accumulate into gradients).
//
// Threads: the rows of C are split into one block per thread, each computed by a
// single-threaded sgemm (OpenBLAS runs single-threaded inside a parallel region). Called
// from inside a parallel region (conv2d's per-image loop), or for a small product, it is
// one call on this thread. bnlab thus decides every split itself: OpenBLAS's own threading
// made small products (a batch x 10 classifier) slower, not faster, on 2 cores.
inline void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 const float* B, float beta, float* C) {
    const int lda = static_cast<int>(trans_a ? M : K), ldb = static_cast<int>(trans_b ? K : N);
    parallel_for(M, N * K, [&](int64_t m0, int64_t m1) {
        if (m1 == m0) return;
        const float* a = trans_a ? A + m0 : A + m0 * K;  // rows m0.. of op(A)
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                    static_cast<int>(m1 - m0), static_cast<int>(N), static_cast<int>(K), alpha, a, lda, B, ldb, beta,
                    C + m0 * N, static_cast<int>(N));
    });
}

}  // namespace bnlab::detail
