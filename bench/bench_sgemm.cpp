// sgemm at the shapes bnlab's models produce, against its large-square peak and the cores'
// register-only FMA peak. (It calls sgemm through core/ops/blas.h, as the ops do, on the
// kernels core/cpu.h picks: OpenBLAS for portable, BLIS for avx512.)
//
//   bench_sgemm [--threads 2,1] [--windows 5] [--window-seconds 0.3]
//               [--kernels auto|portable|avx512|blis] [--conv-copies 1]
//
// --kernels blis runs BLIS in the configuration BLIS picks itself (skx only where bnlab picks it),
// to compare the two libraries on CPUs without AVX-512. --conv-copies N runs each conv product
// as N threads at once, each on its own matrices (how conv2d's per-image loop uses N threads),
// and reports their GFLOP/s together.
//
// For every conv2d and linear layer of mnist-cnn and cifar-cnn (found by running the model
// layer by layer), the products core/ops/conv.cpp and matmul.cpp issue in a training step:
//   conv2d, per image, each on one thread (conv2d runs one image per thread):
//     forward  y (F,P)      = W (F,K) cols (K,P)
//     weight   dW (F,K)    += dY (F,P) cols^T (P,K)
//     columns  dcols (K,P)  = W^T (K,F) dY (F,P)        (not for the first layer: no dx needed)
//   linear, on the whole batch of 128 with every thread (one for products under
//   detail::kGemmParallelMin multiply-adds): forward, dx, dW.
// Rows: `cores N SCALING` (how many of the N cores were free: a compute loop on N threads vs 1),
// `fma ISA THREADS GFLOP/s` (avx2, avx512: independent multiply-adds in registers, no memory;
// `n/a` where the CPU lacks the ISA), `peak THREADS GFLOP/s` (2048^3), `gemm MODEL LAYER PRODUCT M N K GFLOP/s fraction-of-peak`,
// and `flops MODEL MFLOP` (one image's training step, all products together), which
// bench/compare.py turns into the sgemm bound on images/s.
#include <cblas.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include "bench/timing.h"
#include "core/cpu.h"
#include "core/error.h"
#include "core/ops/blas.h"
#include "core/parallel.h"
#include "core/random.h"
#include "core/tensor.h"
#include "layers/affine.h"
#include "models/zoo.h"

using namespace bnlab;

namespace {

// C (M,N) = A (M,K) B (K,N), with A or B stored transposed as the op stores them, the way
// bnlab calls sgemm (core/ops/blas.h: rows split over the threads); GFLOP/s. With copies > 1,
// that many threads each run the product on their own matrices inside one parallel region,
// `repeats` times each (a region of about 4 M multiply-adds per thread, as conv2d runs a block
// of images per thread: forking per product would time OpenMP's fork and join instead), and
// the GFLOP/s are of all of them together.
double gflops(int64_t M, int64_t N, int64_t K, bool trans_a, bool trans_b, const bench::TimingOptions& timing,
              int copies = 1) {
    Generator gen(5);
    std::vector<Tensor> a, b, c;
    for (int i = 0; i < copies; ++i) {
        a.push_back(Tensor::randn({M * K}, gen));
        b.push_back(Tensor::randn({K * N}, gen));
        c.push_back(Tensor::zeros({M * N}));
    }
    const detail::Gemm gemm;
    const auto one = [&](int i) { gemm(trans_a, trans_b, M, N, K, 1.0f, a[i].data(), b[i].data(), 0.0f, c[i].data()); };
    const int64_t repeats = copies == 1 ? 1 : std::max<int64_t>(1, (int64_t{1} << 22) / (M * N * K));
    const auto call = [&] {
        if (copies == 1) return one(0);
#pragma omp parallel num_threads(copies)
        for (int64_t r = 0; r < repeats; ++r) one(omp_get_thread_num());
    };
    const bench::Timing t = bench::time_windows(call, timing);
    return 2.0 * static_cast<double>(M * N * K * repeats) * copies / t.best / 1e9;
}

// Independent multiply-add chains held in registers (more chains than FMA units x latency, so
// the units never wait): the core's arithmetic limit. GCC vector types keep one loop for both
// widths; each wrapper compiles it for its ISA (no -m flags: the build stays portable) and
// with contraction on, so acc * x + y is one FMA. The result depends on every chain, so
// nothing is optimized away; `flop` gets the count.
typedef float Float8 __attribute__((vector_size(32)));
typedef float Float16 __attribute__((vector_size(64)));
constexpr int64_t kFmaIterations = 1'000'000;  // 1-2 ms a run: short enough to fit between other processes

template <class Vec, int chains>
[[gnu::always_inline]] inline float fma_chains(double& flop) {
    constexpr int lanes = sizeof(Vec) / sizeof(float);
    Vec acc[chains];
    for (int i = 0; i < chains; ++i) acc[i] = Vec{} + 0.001f * static_cast<float>(i);
    const Vec x = Vec{} + 0.9999999f, y = Vec{} + 1e-7f;
    for (int64_t it = 0; it < kFmaIterations; ++it)
        for (int i = 0; i < chains; ++i) acc[i] = acc[i] * x + y;
    Vec total = acc[0];
    for (int i = 1; i < chains; ++i) total += acc[i];
    flop = 2.0 * lanes * chains * static_cast<double>(kFmaIterations);
    return total[0] + total[lanes - 1];
}

// 12 chains of 16 YMM registers; 16 of 32 ZMM registers.
[[gnu::target("avx2,fma"), gnu::optimize("fp-contract=fast")]] float fma_loop_avx2(double& flop) {
    return fma_chains<Float8, 12>(flop);
}
[[gnu::target("avx512f"), gnu::optimize("fp-contract=fast")]] float fma_loop_avx512(double& flop) {
    return fma_chains<Float16, 16>(flop);
}

// GFLOP/s of `threads` threads each running `loop` at once: the best of 40 runs.
double fma_peak(int threads, float (*loop)(double&)) {
    double best = 1e9, flop = 0, sink = 0;
    for (int r = 0; r < 40; ++r) {
        const auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
        sink += loop(flop);
        best = std::min(best, bench::seconds_since(start));
    }
    if (sink == 12345.0f) std::printf("#\n");  // keeps the loops
    return flop * threads / best / 1e9;
}

// Seconds for `threads` threads to each run the same chain of dependent multiply-adds.
double compute_seconds(int threads) {
    double best = 1e9;
    for (int r = 0; r < 5; ++r) {
        const auto start = std::chrono::steady_clock::now();
        double sink = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
        {
            double a = 1.0;
            for (int64_t i = 0; i < 50'000'000; ++i) a = a * 1.0000001 + 1e-9;
            sink += a;
        }
        best = std::min(best, bench::seconds_since(start));
        if (sink == 0) std::printf("#\n");  // keeps the loop
    }
    return best;
}

struct Product {
    std::string layer, name;
    int64_t M, N, K;
    bool trans_a, trans_b;
    int threads;  // linear: the threads the product is split over; conv: copies at once (--conv-copies)
    double per_image;  // how many times one image's training step runs it (1/batch for linear)
};

// The products one training step of `arch` runs, layer by layer.
std::vector<Product> products_of(const std::string& arch, int64_t batch, int threads, int conv_copies) {
    const InputSpec in = arch == "cifar-cnn" ? InputSpec{3, 32, 32, 10} : InputSpec{1, 28, 28, 10};
    auto model = make_model(ModelConfig{.arch = arch, .norm = "none"}, in, 1);
    model->eval();
    Generator gen(1);
    Tensor x = Tensor::randn({1, in.channels, in.height, in.width}, gen);
    std::vector<Product> out;
    bool first = true;
    for (size_t i = 0; i < model->size(); ++i) {
        Module& layer = (*model)[i];
        const Tensor y = layer.forward(x);
        const std::string name = std::to_string(i);
        if (auto* conv = dynamic_cast<Conv2d*>(&layer)) {
            const int64_t F = conv->weight.dim(0), K = conv->weight.numel() / F, P = y.dim(2) * y.dim(3);
            out.push_back({name + ":conv", "forward", F, P, K, false, false, conv_copies, 1.0});
            out.push_back({name + ":conv", "weight", F, K, P, false, true, conv_copies, 1.0});
            if (!first) out.push_back({name + ":conv", "columns", K, P, F, true, false, conv_copies, 1.0});
            first = false;
        } else if (auto* lin = dynamic_cast<Linear*>(&layer)) {
            const int64_t O = lin->weight.dim(0), I = lin->weight.dim(1);
            const double share = 1.0 / static_cast<double>(batch);
            out.push_back({name + ":linear", "forward", batch, O, I, false, true, threads, share});
            if (!first) out.push_back({name + ":linear", "input", batch, I, O, false, false, threads, share});
            out.push_back({name + ":linear", "weight", O, I, batch, true, false, threads, share});
            first = false;
        }
        x = y;
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app("sgemm at bnlab's model shapes, against the large-square peak");
    std::string threads = "2,1";
    bench::TimingOptions timing;
    app.add_option("--threads", threads, "thread counts for the peak (the largest also runs the linears)")
        ->capture_default_str();
    app.add_option("--windows", timing.windows, "timing windows")->capture_default_str();
    app.add_option("--window-seconds", timing.window_seconds, "seconds per window")->capture_default_str();
    std::string kernels = "auto";
    app.add_option("--kernels", kernels, "auto, portable (OpenBLAS), avx512 (BLIS skx), blis (BLIS's own choice)")
        ->capture_default_str();
    int conv_copies = 1;
    app.add_option("--conv-copies", conv_copies, "threads running each conv product at once, one copy each")
        ->capture_default_str();
    bool cores_only = false;
    app.add_flag("--cores-only", cores_only, "only the `cores` row: how many cores are free now");
    CLI11_PARSE(app, argc, argv);

    std::optional<detail::ScopedGemmLibrary> blis;
    try {
        if (kernels == "blis") blis.emplace(detail::GemmLibrary::blis);
        else set_kernels(parse_kernels(kernels, "--kernels"));
    } catch (const Error& e) {
        std::fprintf(stderr, "bench_sgemm: %s\n", e.what());
        return 2;
    }
    const bool on_blis = detail::Gemm{}.library == detail::GemmLibrary::blis;
    std::printf("# bench_sgemm; sgemm: %s; conv copies %d\n",
                on_blis ? detail::blis_description().c_str() : kernels_description().c_str(), conv_copies);
    // Are the cores free? Each thread runs the same work: the ratio is the number of threads
    // when they each have a core, lower when other processes hold some.
    const int all = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    std::printf("cores %d %.2f\n", all, compute_seconds(1) * all / compute_seconds(all));
    if (cores_only) return 0;
    std::vector<int> thread_counts;
    for (size_t start = 0; start < threads.size();) {
        const size_t end = std::min(threads.find(',', start), threads.size());
        thread_counts.push_back(std::stoi(threads.substr(start, end - start)));
        start = end + 1;
    }
    for (const int t : thread_counts) {
        std::printf("fma avx2 %d ", t);
        if (cpu_features().avx2 && cpu_features().fma) std::printf("%.1f\n", fma_peak(t, fma_loop_avx2));
        else std::printf("n/a\n");
        std::printf("fma avx512 %d ", t);
        if (cpu_features().avx512f) std::printf("%.1f\n", fma_peak(t, fma_loop_avx512));
        else std::printf("n/a\n");
    }
    std::map<int, double> peak;
    int max_threads = 1;
    for (const int t : thread_counts) {
        set_num_threads(t);
        peak[t] = gflops(2048, 2048, 2048, false, false, timing);
        std::printf("peak %d %.1f\n", t, peak[t]);
        max_threads = std::max(max_threads, t);
    }
    std::fflush(stdout);
    for (const std::string arch : {"mnist-cnn", "cifar-cnn"}) {
        double flop = 0;
        for (const Product& p : products_of(arch, 128, max_threads, conv_copies)) {
            const bool conv = p.layer.ends_with(":conv");
            set_num_threads(conv ? 1 : p.threads);
            const double g = gflops(p.M, p.N, p.K, p.trans_a, p.trans_b, timing, conv ? p.threads : 1);
            // Against the peak of the threads it really runs on: small products run on one.
            const int used = !conv && p.M * p.N * p.K < detail::kGemmParallelMin ? 1 : p.threads;
            const double of_peak = g / (peak.count(used) ? peak[used] : peak.begin()->second);
            std::printf("gemm %s %s %s %lld %lld %lld %.2f %.3f\n", arch.c_str(), p.layer.c_str(),
                        p.name.c_str(), static_cast<long long>(p.M), static_cast<long long>(p.N),
                        static_cast<long long>(p.K), g, of_peak);
            std::fflush(stdout);
            flop += 2.0 * static_cast<double>(p.M * p.N * p.K) * p.per_image;
        }
        std::printf("flops %s %.2f\n", arch.c_str(), flop / 1e6);
    }
    return 0;
}
