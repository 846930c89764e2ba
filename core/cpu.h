// Which kernels bnlab's matrix products run on, chosen at run time from what this CPU can do.
// The build stays portable (no -march=native): the AVX-512 code is BLIS's skx sgemm, which
// runs only after cpuid and the OS say the registers are there.
//
//   portable   OpenBLAS sgemm (whatever kernels OPENBLAS_CORETYPE or its own detection pick)
//   avx512     BLIS sgemm with its skx (AVX-512 F/DQ/BW/VL) configuration
//   automatic  avx512 where the CPU has it, portable elsewhere (the default)
//
// The default comes from the environment variable BNLAB_KERNELS=auto|portable|avx512, read
// once, at the first product; set_kernels() overrides it. Both paths agree to float
// rounding, and each gives the same bits run to run at a fixed thread count.
#pragma once

#include <string>
#include <string_view>

namespace bnlab {

// What this CPU can run and the OS saves across context switches (cpuid leaves 1 and 7;
// xgetbv: the YMM state for AVX2/FMA, the ZMM and opmask state for AVX-512).
struct CpuFeatures {
    bool fma = false, avx2 = false;
    bool avx512f = false, avx512dq = false, avx512bw = false, avx512vl = false;
    // The AVX-512 subsets BLIS's skx kernels are built with.
    bool avx512() const { return avx512f && avx512dq && avx512bw && avx512vl; }
};

// This machine's features, detected once.
const CpuFeatures& cpu_features();

enum class Kernels { automatic, portable, avx512 };

// "auto" (or "automatic"), "portable", "avx512" -> Kernels; anything else throws an Error that
// names `source` (the variable or flag the text came from) and the accepted values.
Kernels parse_kernels(std::string_view text, std::string_view source);
std::string_view kernels_name(Kernels kernels);

// automatic -> avx512 where cpu.avx512(), portable elsewhere. avx512 on a CPU without it
// throws an Error (BLIS's skx kernels would stop the process with an illegal instruction).
Kernels resolve_kernels(Kernels requested, const CpuFeatures& cpu);

// BNLAB_KERNELS, parsed; automatic where it is unset or empty. (kernels() reads it once.)
Kernels kernels_from_environment();

// Every later product runs on these kernels (resolved: automatic picks from this CPU).
void set_kernels(Kernels kernels);
// The kernels in use, never automatic: set_kernels()'s choice, else BNLAB_KERNELS's (an empty
// or unset variable means auto). A bad BNLAB_KERNELS throws here, on the first product.
Kernels kernels();
// One line for logs and benchmark reports, e.g. "avx512 (BLIS 0.9.0, skx sub-configuration)".
std::string kernels_description();

}  // namespace bnlab
