// BLIS's sgemm through its typed API (bli_sgemm_ex), which takes a row and a column stride
// per matrix: a row-major matrix stored transposed is the same memory with the two strides
// swapped, so every product is a NO_TRANSPOSE call.
//
// BLIS picks its configuration (the kernel set) once, at its initialization, from
// BLIS_ARCH_TYPE or its own cpuid table. Debian's BLIS 0.9.0 does not know every AVX-512
// core (it runs Zen 5 with its "generic" C kernels, ~65 GFLOP/s on 2 threads), so where this
// CPU has AVX-512 F/DQ/BW/VL and the variable is unset, bnlab sets it to the skx
// configuration before BLIS's first call. BLIS 0.9.0 reads the variable as an integer arch_t
// (strtol): a name such as "skx" or "haswell" reads as 0, which is skx, so bnlab writes the
// number. A value the user set is left alone; blis_configuration() reports what BLIS chose.
#include "core/ops/blis_gemm.h"

#include <blis.h>

#include <cstdlib>
#include <mutex>

#include "core/cpu.h"

namespace bnlab::detail {

namespace {

void initialize_blis() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (cpu_features().avx512() && !std::getenv("BLIS_ARCH_TYPE"))
            setenv("BLIS_ARCH_TYPE", std::to_string(static_cast<int>(BLIS_ARCH_SKX)).c_str(), 0);
        bli_init();
    });
}

}  // namespace

void blis_gemm_on_this_thread(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                              const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                              int64_t ldc) {
    initialize_blis();
    rntm_t one_thread = BLIS_RNTM_INITIALIZER;
    bli_rntm_set_num_threads(1, &one_thread);
    // (row stride, column stride) of op(A) (M,K) and op(B) (K,N) in their storage.
    const inc_t rs_a = trans_a ? 1 : lda, cs_a = trans_a ? lda : 1;
    const inc_t rs_b = trans_b ? 1 : ldb, cs_b = trans_b ? ldb : 1;
    bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, M, N, K, &alpha, const_cast<float*>(A), rs_a, cs_a,
                 const_cast<float*>(B), rs_b, cs_b, &beta, C, ldc, 1, nullptr, &one_thread);
}

std::string blis_configuration() {
    initialize_blis();
    return bli_arch_string(bli_arch_query_id());
}

std::string blis_description() {
    return std::string("BLIS ") + bli_info_get_version_str() + ", " + blis_configuration() + " sub-configuration";
}

}  // namespace bnlab::detail
