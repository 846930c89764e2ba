// BLIS's sgemm, the avx512 kernels of core/cpu.h (internal to core). Its own file because
// blis.h declares the CBLAS names too and cannot share a translation unit with OpenBLAS's
// cblas.h; bnlab reaches BLIS only through bli_* names, so cblas_sgemm stays OpenBLAS's.
#pragma once

#include <cstdint>
#include <string>

namespace bnlab::detail {

// C (M,N) = alpha * op(A) op(B) + beta * C on this thread (BLIS's own threading off), all
// row-major: op(A) is A (M,K) with row stride lda, or A stored (K,M) when trans_a; op(B) is
// B (K,N), or B stored (N,K) when trans_b; C has row stride ldc.
void blis_gemm_on_this_thread(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                              const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                              int64_t ldc);

// "BLIS 0.9.0, skx sub-configuration": the version and the configuration BLIS runs with.
std::string blis_description();
// The configuration's name ("skx", "zen3", "generic", ...).
std::string blis_configuration();

}  // namespace bnlab::detail
