// bench_conv: each 3x3 stride-1 layer of the model zoo by each algorithm conv2d has (im2col +
// sgemm, Winograd F(2x2,3x3), the direct loop), pass by pass: forward, input gradient, weight
// gradient. Prints GFLOP/s (a multiply-add counts 2; Winograd's are "effective": the direct
// convolution's FLOP over its time) per pass and algorithm, the fastest marked, and what
// conv2d's automatic choice picks. This is the measurement behind winograd_pays and
// direct_pays; bench/compare.py reads its `auto` rows (the automatic choice against the FMA peak).
//
//   bench_conv [--threads 1] [--batch 64] [--seconds 0.3] [--windows 3]
//              [--models mnist-cnn,cifar-cnn,...] [--algorithms im2col,winograd,direct,auto]
//
// After the table, one row per layer and pass where `auto` was timed, whitespace-separated:
//   auto MODEL C H F PASS PICKS GFLOP GFLOP/s
// (PASS forward | input-grad | weight-grad; PICKS the algorithm the automatic choice runs;
// GFLOP one call's direct-convolution FLOP, the whole batch.)
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
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

// Every 3x3 stride-1 layer of the zoo's mnist-cnn (1x28x28 input), cifar-cnn and resnet20
// (3x32x32; each shape once: ResNet-20 has six 16@32->16, five 32@16->32 and five 64@8->64;
// its two stride-2 convs run im2col and are not here), plain-cnn width 8's (1x28x28), and one
// wide layer no zoo model has (where Winograd wins).
const Layer kLayers[] = {
    {"plain-cnn-w8", 1, 28, 8},  {"plain-cnn-w8", 8, 28, 8},  {"plain-cnn-w8", 16, 14, 16}, {"plain-cnn-w8", 32, 7, 32},
    {"resnet20", 3, 32, 16},     {"resnet20", 16, 32, 16},    {"resnet20", 32, 16, 32},     {"resnet20", 64, 8, 64},
    {"mnist-cnn", 1, 28, 32},    {"mnist-cnn", 32, 14, 64},   {"cifar-cnn", 3, 32, 32},     {"cifar-cnn", 32, 32, 32},
    {"cifar-cnn", 32, 16, 64},   {"cifar-cnn", 64, 16, 64},   {"cifar-cnn", 64, 8, 128},    {"wide", 128, 8, 128},
};

using Pass = detail::ConvPass;

using bench::split;
using detail::ConvAlgorithm;

const char* algorithm_name(ConvAlgorithm a) {
    switch (a) {
        case ConvAlgorithm::im2col: return "im2col";
        case ConvAlgorithm::winograd: return "winograd";
        case ConvAlgorithm::direct: return "direct";
        case ConvAlgorithm::automatic: break;
    }
    return "auto";
}

// What conv2d's automatic choice runs for this pass of a 3x3 stride-1 pad-1 layer (square,
// so its input and output have the same tiles).
ConvAlgorithm automatic_choice(const Layer& l, Pass pass, int64_t batch) {
    if (batch < num_threads()) return ConvAlgorithm::im2col;  // images not spread over the threads
    const int64_t tiles = ((l.H + 1) / 2) * ((l.H + 1) / 2);
    return detail::automatic_3x3_algorithm(pass, l.C, l.F, tiles, tiles);
}

double seconds_per_call(const Layer& l, int64_t batch, Pass pass, ConvAlgorithm algorithm,
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

bool listed(const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"each 3x3 layer by each conv2d algorithm, pass by pass"};
    int threads = 1;
    int64_t batch = 64;
    double seconds = 0.3;
    int windows = 3;
    std::string models, algorithm_list = "im2col,winograd,direct,auto";
    app.add_option("--threads", threads, "threads");
    app.add_option("--batch", batch, "images per call");
    app.add_option("--seconds", seconds, "seconds per timing window (and of the warm-up)");
    app.add_option("--windows", windows, "timing windows per number (the best counts)");
    app.add_option("--models", models, "comma-separated: only these models' layers (default: every layer)");
    app.add_option("--algorithms", algorithm_list, "comma-separated, of im2col, winograd, direct, auto")
        ->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    set_num_threads(threads);
    const bench::TimingOptions options{.windows = windows, .window_seconds = seconds, .warmup_seconds = seconds};
    std::vector<ConvAlgorithm> algorithms;
    for (const ConvAlgorithm a :
         {ConvAlgorithm::im2col, ConvAlgorithm::winograd, ConvAlgorithm::direct, ConvAlgorithm::automatic})
        if (listed(split(algorithm_list), algorithm_name(a))) algorithms.push_back(a);
    if (algorithms.empty()) {
        fmt::print(stderr, "bench_conv: --algorithms names none of im2col, winograd, direct, auto\n");
        return 2;
    }
    const std::pair<Pass, const char*> passes[] = {
        {Pass::forward, "forward"}, {Pass::input_gradient, "input-grad"}, {Pass::weight_gradient, "weight-grad"}};
    fmt::print("3x3 stride-1 layers, batch {}, {} thread(s), GFLOP/s (direct runs: {})\n", batch, threads,
               detail::direct_conv_supported() ? "yes" : "no, AVX2 missing: im2col instead");
    fmt::print("{:<13} {:>14} {:<12}", "model", "layer", "pass");
    for (const ConvAlgorithm a : algorithms) fmt::print(" {:>9}", algorithm_name(a));
    fmt::print("  picks\n");
    std::vector<std::string> auto_rows;
    for (const Layer& l : kLayers) {
        if (!models.empty() && !listed(split(models), l.model)) continue;
        const double flop = 2.0 * static_cast<double>(batch * l.F * l.C * 9 * l.H * l.H);
        const std::string layer = fmt::format("{}@{}->{}", l.C, l.H, l.F);
        for (const auto& [pass, pass_name] : passes) {
            if (pass == Pass::input_gradient && l.C <= 3) continue;  // a first layer has no input gradient
            const char* picks = algorithm_name(automatic_choice(l, pass, batch));
            std::vector<double> rate;
            for (const ConvAlgorithm a : algorithms) rate.push_back(flop / seconds_per_call(l, batch, pass, a, options) / 1e9);
            // The fastest of the forced algorithms (auto is one of them, not a rival).
            size_t best = 0;
            for (size_t i = 1; i < rate.size(); ++i)
                if (algorithms[i] != ConvAlgorithm::automatic && rate[i] > rate[best]) best = i;
            std::string cells;
            for (size_t i = 0; i < rate.size(); ++i) {
                const bool mark = i == best && algorithms[i] != ConvAlgorithm::automatic && algorithms.size() > 1;
                cells += fmt::format(" {:>8.1f}{}", rate[i], mark ? "*" : " ");
                if (algorithms[i] == ConvAlgorithm::automatic)
                    auto_rows.push_back(fmt::format("auto {} {} {} {} {} {} {:.4f} {:.2f}", l.model, l.C, l.H, l.F,
                                                    pass_name, picks, flop / 1e9, rate[i]));
            }
            fmt::print("{:<13} {:>14} {:<12}{}  {}\n", l.model, layer, pass_name, cells, picks);
            std::fflush(stdout);
        }
    }
    for (const std::string& row : auto_rows) fmt::print("{}\n", row);
}
