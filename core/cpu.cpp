#include "core/cpu.h"

#include <cblas.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>

#include "core/error.h"
#include "core/ops/blis_gemm.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace bnlab {

namespace {

#if defined(__x86_64__) || defined(__i386__)
// XCR0: which register state the OS saves. Read with the instruction itself, so that this
// file needs no -mxsave.
uint64_t xgetbv0() {
    uint32_t eax = 0, edx = 0;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return (uint64_t{edx} << 32) | eax;
}

CpuFeatures detect() {
    CpuFeatures f;
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
    const bool osxsave = ecx & (1u << 27), avx = ecx & (1u << 28), fma = ecx & (1u << 12);
    if (!osxsave || !avx) return f;
    const uint64_t xcr0 = xgetbv0();
    const bool ymm_saved = (xcr0 & 0x6) == 0x6;           // XMM, YMM upper halves
    const bool zmm_saved = ymm_saved && (xcr0 & 0xE0) == 0xE0;  // opmask, ZMM upper halves, ZMM16-31
    if (!ymm_saved || !__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return f;
    f.fma = fma;
    f.avx2 = ebx & (1u << 5);
    f.avx512f = zmm_saved && (ebx & (1u << 16));
    f.avx512dq = zmm_saved && (ebx & (1u << 17));
    f.avx512bw = zmm_saved && (ebx & (1u << 30));
    f.avx512vl = zmm_saved && (ebx & (1u << 31));
    return f;
}
#else
CpuFeatures detect() { return {}; }
#endif

// The chosen kernels, as an int; -1 until the first product or set_kernels().
std::atomic<int>& chosen() {
    static std::atomic<int> value{-1};
    return value;
}

}  // namespace

const CpuFeatures& cpu_features() {
    static const CpuFeatures features = detect();
    return features;
}

Kernels parse_kernels(std::string_view text, std::string_view source) {
    if (text == "auto" || text == "automatic") return Kernels::automatic;
    if (text == "portable") return Kernels::portable;
    if (text == "avx512") return Kernels::avx512;
    throw Error(std::string(source) + ": unknown kernels '" + std::string(text) +
                "' (expected auto, portable or avx512)");
}

std::string_view kernels_name(Kernels kernels) {
    switch (kernels) {
        case Kernels::automatic: return "auto";
        case Kernels::portable: return "portable";
        case Kernels::avx512: return "avx512";
    }
    return "?";
}

Kernels kernels_from_environment() {
    const char* text = std::getenv("BNLAB_KERNELS");
    return text && *text ? parse_kernels(text, "BNLAB_KERNELS") : Kernels::automatic;
}

Kernels resolve_kernels(Kernels requested, const CpuFeatures& cpu) {
    if (requested == Kernels::automatic) return cpu.avx512() ? Kernels::avx512 : Kernels::portable;
    if (requested == Kernels::avx512 && !cpu.avx512())
        throw Error("kernels avx512: this CPU (or its OS) lacks AVX-512 F/DQ/BW/VL; use portable or auto");
    return requested;
}

void set_kernels(Kernels kernels) {
    chosen().store(static_cast<int>(resolve_kernels(kernels, cpu_features())));
}

Kernels kernels() {
    int value = chosen().load();
    if (value < 0) {
        // First product: the environment's choice, unless set_kernels() got there meanwhile.
        int unset = -1;
        chosen().compare_exchange_strong(unset, static_cast<int>(resolve_kernels(kernels_from_environment(), cpu_features())));
        value = chosen().load();
    }
    return static_cast<Kernels>(value);
}

std::string kernels_description() {
    const Kernels k = kernels();
    const std::string library = k == Kernels::avx512 ? detail::blis_description() : openblas_get_config();
    return std::string(kernels_name(k)) + " (" + library + ")";
}

}  // namespace bnlab
