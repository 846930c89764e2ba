// Run-time kernel dispatch (core/cpu.h): cpuid detection against the kernel's view in
// /proc/cpuinfo, BNLAB_KERNELS parsing, the automatic choice, set_kernels(), and which shared
// library each BLAS name binds to now that both OpenBLAS and BLIS are linked.
#include <catch2/catch.hpp>
#include <dlfcn.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "core/cpu.h"
#include "core/error.h"
#include "core/ops/blas.h"
#include "core/ops/blis_gemm.h"

using namespace bnlab;

namespace {

// Restores the kernels in use at the end of a scope.
struct SavedKernels {
    SavedKernels() : saved(kernels()) {}
    ~SavedKernels() { set_kernels(saved); }
    Kernels saved;
};

// Sets (or, with nullptr, unsets) an environment variable for a scope.
struct ScopedEnv {
    ScopedEnv(const char* name, const char* value) : name(name) {
        if (const char* old = std::getenv(name)) saved = old;
        had = std::getenv(name) != nullptr;
        if (value) setenv(name, value, 1);
        else unsetenv(name);
    }
    ~ScopedEnv() {
        if (had) setenv(name, saved.c_str(), 1);
        else unsetenv(name);
    }
    const char* name;
    std::string saved;
    bool had = false;
};

// The flags of the first processor in /proc/cpuinfo (empty where there is none).
std::set<std::string> cpuinfo_flags() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("flags", 0) != 0) continue;
        std::istringstream words(line.substr(line.find(':') + 1));
        std::set<std::string> flags;
        for (std::string w; words >> w;) flags.insert(w);
        return flags;
    }
    return {};
}

// The file of the shared object that defines `symbol` for this process.
std::string library_defining(const char* symbol) {
    void* address = dlsym(RTLD_DEFAULT, symbol);
    Dl_info info{};
    if (!address || !dladdr(address, &info) || !info.dli_fname) return "(not found)";
    return info.dli_fname;
}

}  // namespace

TEST_CASE("cpu_features agrees with the kernel's flags in /proc/cpuinfo", "[cpu]") {
    const std::set<std::string> flags = cpuinfo_flags();
    if (flags.empty()) {
        WARN("no /proc/cpuinfo flags here: nothing to compare with");
        return;
    }
    const CpuFeatures& f = cpu_features();
    // Linux lists a feature only where the OS also saves its registers, as xgetbv checks.
    CHECK(f.fma == flags.count("fma"));
    CHECK(f.avx2 == flags.count("avx2"));
    CHECK(f.avx512f == flags.count("avx512f"));
    CHECK(f.avx512dq == flags.count("avx512dq"));
    CHECK(f.avx512bw == flags.count("avx512bw"));
    CHECK(f.avx512vl == flags.count("avx512vl"));
    CHECK(f.avx512() == (flags.count("avx512f") && flags.count("avx512dq") && flags.count("avx512bw") &&
                         flags.count("avx512vl")));
}

TEST_CASE("parse_kernels: auto, portable, avx512, anything else names its source", "[cpu]") {
    CHECK(parse_kernels("auto", "x") == Kernels::automatic);
    CHECK(parse_kernels("automatic", "x") == Kernels::automatic);
    CHECK(parse_kernels("portable", "x") == Kernels::portable);
    CHECK(parse_kernels("avx512", "x") == Kernels::avx512);
    for (const Kernels k : {Kernels::automatic, Kernels::portable, Kernels::avx512})
        CHECK(parse_kernels(kernels_name(k), "x") == k);
    CHECK_THROWS_WITH(parse_kernels("AVX-512", "BNLAB_KERNELS"),
                      "BNLAB_KERNELS: unknown kernels 'AVX-512' (expected auto, portable or avx512)");
    CHECK_THROWS_AS(parse_kernels("", "--kernels"), Error);
}

TEST_CASE("resolve_kernels: automatic takes AVX-512 only where all of F/DQ/BW/VL are there", "[cpu]") {
    const CpuFeatures avx2_only{.fma = true, .avx2 = true};
    CpuFeatures skx = avx2_only;
    skx.avx512f = skx.avx512dq = skx.avx512bw = skx.avx512vl = true;
    CpuFeatures no_bw = skx;
    no_bw.avx512bw = false;
    CHECK(resolve_kernels(Kernels::automatic, skx) == Kernels::avx512);
    CHECK(resolve_kernels(Kernels::automatic, avx2_only) == Kernels::portable);
    CHECK(resolve_kernels(Kernels::automatic, no_bw) == Kernels::portable);
    CHECK(resolve_kernels(Kernels::portable, skx) == Kernels::portable);
    CHECK(resolve_kernels(Kernels::avx512, skx) == Kernels::avx512);
    CHECK_THROWS_AS(resolve_kernels(Kernels::avx512, no_bw), Error);
    CHECK_THROWS_AS(resolve_kernels(Kernels::avx512, CpuFeatures{}), Error);
}

TEST_CASE("BNLAB_KERNELS: unset or empty is auto, a value is parsed, a bad one names the variable", "[cpu]") {
    {
        const ScopedEnv env("BNLAB_KERNELS", nullptr);
        CHECK(kernels_from_environment() == Kernels::automatic);
    }
    {
        const ScopedEnv env("BNLAB_KERNELS", "");
        CHECK(kernels_from_environment() == Kernels::automatic);
    }
    {
        const ScopedEnv env("BNLAB_KERNELS", "portable");
        CHECK(kernels_from_environment() == Kernels::portable);
    }
    const ScopedEnv env("BNLAB_KERNELS", "fast");
    CHECK_THROWS_WITH(kernels_from_environment(), Catch::Contains("BNLAB_KERNELS") && Catch::Contains("'fast'"));
}

TEST_CASE("set_kernels chooses the library of every later product, the environment is read only once",
          "[cpu][blis]") {
    const SavedKernels saved;
    set_kernels(Kernels::portable);
    CHECK(kernels() == Kernels::portable);
    CHECK(detail::Gemm{}.library == detail::GemmLibrary::openblas);
    CHECK_THAT(kernels_description(), Catch::StartsWith("portable (OpenBLAS"));
    {
        const ScopedEnv env("BNLAB_KERNELS", "avx512");  // too late: the choice is made
        CHECK(kernels() == Kernels::portable);
    }
    set_kernels(Kernels::automatic);
    CHECK(kernels() == resolve_kernels(Kernels::automatic, cpu_features()));
    if (cpu_features().avx512()) {
        set_kernels(Kernels::avx512);
        CHECK(detail::Gemm{}.library == detail::GemmLibrary::blis);
        // Where the user has not chosen a BLIS configuration, bnlab selects skx.
        if (!std::getenv("BLIS_ARCH_TYPE") || std::string(std::getenv("BLIS_ARCH_TYPE")) == "0")
            CHECK(detail::blis_configuration() == "skx");
        CHECK_THAT(kernels_description(), Catch::StartsWith("avx512 (BLIS "));
    } else {
        WARN("this CPU has no AVX-512: the avx512 kernels cannot run here (BLIS is tested with its own configuration)");
        CHECK_THROWS_WITH(set_kernels(Kernels::avx512), Catch::Contains("lacks AVX-512"));
        CHECK(kernels() == Kernels::portable);
        CHECK(detail::blis_configuration() != "skx");  // BLIS's own choice: skx would not run here
    }
}

TEST_CASE("the CBLAS names bind to OpenBLAS, bnlab's BLIS calls to BLIS", "[cpu][blis]") {
    // Both libraries define cblas_sgemm and sgemm_; OpenBLAS is linked first, so it wins.
    CHECK_THAT(library_defining("cblas_sgemm"), Catch::Contains("openblas"));
    CHECK_THAT(library_defining("sgemm_"), Catch::Contains("openblas"));
    CHECK_THAT(library_defining("openblas_get_config"), Catch::Contains("openblas"));
    CHECK_THAT(library_defining("bli_sgemm_ex"), Catch::Contains("blis"));
}
