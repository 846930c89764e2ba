// Row-major sgemm through OpenBLAS (internal to core/ops).
#pragma once

#include <cblas.h>

#include <cstdint>

namespace bnlab::detail {

// C (M,N) = alpha * op(A) op(B) + beta * C, all row-major with leading dimensions of
// their stored widths. trans_a: A is stored (K,M) and used transposed; trans_b: B is
// stored (N,K). beta = 1 adds into C (how backward passes accumulate into gradients).
inline void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 const float* B, float beta, float* C) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), alpha, A,
                static_cast<int>(trans_a ? M : K), B, static_cast<int>(trans_b ? K : N), beta, C,
                static_cast<int>(N));
}

}  // namespace bnlab::detail
