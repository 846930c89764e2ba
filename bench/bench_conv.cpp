// bench_conv: each 3x3 stride-1 layer of the model zoo by each algorithm conv2d has (im2col +
// sgemm, Winograd F(2x2,3x3), the direct loop), pass by pass: forward, input gradient, weight
// gradient. Prints GFLOP/s (a multiply-add counts 2) per pass and algorithm, the fastest
// marked, and what conv2d's automatic choice picks. This is the measurement behind
// winograd_pays and direct_pays.
//
//   bench_conv [--threads 1] [--batch 64] [--seconds 0.3]
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <string>
#include <vector>

#include "bench/timing.h"
#include "core/ops.h"
#include "core/ops/direct_conv.h"
#include "core/ops/winograd.h"
#include "core/parallel.h"
#include "core/random.h"
#include "core/tape.h"

using namespace bnlab;

namespace {

struct Layer {
    const char* model;
    int64_t C, H, F;  // input channels, square map size, output channels
};

const Layer kLayers[] = {
    {"plain-cnn w8", 8, 28, 8},   {"plain-cnn w8", 16, 14, 16}, {"plain-cnn w8", 32, 7, 32},
    {"resnet20", 16, 32, 16},     {"resnet20", 32, 16, 32},     {"resnet20", 64, 8, 64},
    {"mnist-cnn", 32, 14, 64},    {"cifar-cnn", 32, 32, 32},    {"cifar-cnn", 64, 16, 64},
    {"cifar-cnn", 128, 8, 128},   {"first layer", 3, 32, 16},   {"first layer", 1, 28, 8},
};

enum class Pass { forward, input_gradient, weight_gradient };

double seconds_per_call(const Layer& l, int64_t batch, Pass pass, detail::ConvAlgorithm algorithm,
                        const bench::TimingOptions& options) {
    Generator gen(1);
    Tensor x = Tensor::randn({batch, l.C, l.H, l.H}, gen), w = Tensor::randn({l.F, l.C, 3, 3}, gen);
    const Tensor gy = Tensor::randn({batch, l.F, l.H, l.H}, gen);
    if (pass == Pass::input_gradient) x.set_requires_grad();
    if (pass == Pass::weight_gradient) w.set_requires_grad();
    const detail::ScopedConvAlgorithm forced(algorithm);
    const auto call = [&] {
        if (pass == Pass::forward) {
            conv2d(x, w, Tensor(), 1, 1);
            return;
        }
        Tape tape;
        const Tensor y = conv2d(x, w, Tensor(), 1, 1);
        tape.backward(y, gy);
    };
    const double with_forward = bench::time_windows(call, options, [] {}).best;
    if (pass == Pass::forward) return with_forward;
    // The backward pass alone: the call's time less the forward's (no gradient wanted).
    x.set_requires_grad(false);
    w.set_requires_grad(false);
    return with_forward - bench::time_windows([&] { conv2d(x, w, Tensor(), 1, 1); }, options, [] {}).best;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"each 3x3 layer by each conv2d algorithm, pass by pass"};
    int threads = 1;
    int64_t batch = 64;
    double seconds = 0.3;
    app.add_option("--threads", threads, "threads");
    app.add_option("--batch", batch, "images per call");
    app.add_option("--seconds", seconds, "seconds per timing window");
    CLI11_PARSE(app, argc, argv);
    set_num_threads(threads);
    const bench::TimingOptions options{.windows = 3, .window_seconds = seconds, .warmup_seconds = seconds};
    using detail::ConvAlgorithm;
    const std::pair<ConvAlgorithm, const char*> algorithms[] = {
        {ConvAlgorithm::im2col, "im2col"}, {ConvAlgorithm::winograd, "winograd"}, {ConvAlgorithm::direct, "direct"},
        {ConvAlgorithm::automatic, "auto"}};
    const std::pair<Pass, const char*> passes[] = {
        {Pass::forward, "forward"}, {Pass::input_gradient, "input grad"}, {Pass::weight_gradient, "weight grad"}};
    fmt::print("3x3 stride-1 layers, batch {}, {} thread(s), GFLOP/s (direct runs: {})\n", batch, threads,
               detail::direct_conv_supported() ? "yes" : "no, AVX2 missing: im2col instead");
    fmt::print("{:<13} {:>14} {:<12} {:>9} {:>9} {:>9} {:>9}\n", "model", "layer", "pass", "im2col", "winograd",
               "direct", "auto");
    for (const Layer& l : kLayers) {
        const double flop = 2.0 * static_cast<double>(batch * l.F * l.C * 9 * l.H * l.H);
        for (const auto& [pass, pass_name] : passes) {
            if (pass == Pass::input_gradient && l.C <= 3) continue;  // a first layer has no input gradient
            std::vector<double> rate;
            for (const auto& [algorithm, name] : algorithms)
                rate.push_back(flop / seconds_per_call(l, batch, pass, algorithm, options) / 1e9);
            size_t best = 0;
            for (size_t i = 1; i + 1 < rate.size(); ++i)
                if (rate[i] > rate[best]) best = i;
            std::string cells;
            for (size_t i = 0; i < rate.size(); ++i)
                cells += fmt::format(" {:>8.1f}{}", rate[i], i == best ? "*" : " ");
            fmt::print("{:<13} {:>14} {:<12}{}\n", l.model, fmt::format("{}@{}->{}", l.C, l.H, l.F), pass_name, cells);
        }
    }
}
