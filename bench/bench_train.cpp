// Training and inference speed of bnlab's model zoo: the rows bench/torch_ref.py prints for
// PyTorch, so that bench/compare.py can put them side by side (make bench-compare).
//
//   bench_train [--models mlp,mnist-cnn,cifar-cnn] [--norms none,bn,gn] [--batches 64,128]
//               [--threads 2] [--windows 5] [--window-seconds 0.3] [--no-train] [--no-inference]
//               [--conv auto|im2col|winograd|direct] [--no-fuse]
//   bench_train --rss --models cifar-cnn --norms bn --batches 128 --threads 2
//
// A training step is exactly the Trainer's (train/trainer.h train_step): the next batch
// from a prefetching DataLoader over synthetic images, zero_grad, forward under a Tape,
// cross-entropy, backward, SGD with momentum 0.9, with a MemoryPool active. Inference is a
// forward pass in eval mode without a tape. Each time is the best of several windows after a
// warm-up (bench/timing.h). Output rows, whitespace-separated:
//
//   train   MODEL NORM BATCH THREADS  ms/step   images/s  spread  fresh-buffers-per-step
//   share   MODEL NORM BATCH THREADS  kind=percent ...   (the step by op kind, from the Profiler;
//                                                          bn includes the ReLU fused into it,
//                                                          bnpool is BN + ReLU + 2x2 max pool fused)
//   infer   MODEL NORM 256   THREADS  ms/batch  images/s  spread
//   latency MODEL NORM 1     THREADS  ms/image  images/s  spread
//   rss     MODEL NORM BATCH THREADS  peak-MiB            (--rss: 20 steps, alone in the process)
#include <cblas.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "bench/timing.h"
#include "core/error.h"
#include "core/memory_pool.h"
#include "core/ops/winograd.h"
#include "core/parallel.h"
#include "core/profiler.h"
#include "core/random.h"
#include "data/loader.h"
#include "train/trainer.h"
#include "models/zoo.h"
#include "optim/sgd.h"

using namespace bnlab;
using bench::Timing;
using bench::split;
using bench::TimingOptions;

namespace {

struct Row {
    std::string model, norm;
    int64_t batch;
    int threads;
    bool fuse_bn_relu = true;  // false: every op on its own, no fusion (--no-fuse)
};

// CIFAR-sized 3x32x32 inputs for cifar-cnn and resnet20, MNIST-sized 1x28x28 for the others.
InputSpec input_of(const std::string& model) {
    return model == "cifar-cnn" || model == "resnet20" ? InputSpec{3, 32, 32, 10} : InputSpec{1, 28, 28, 10};
}

// Random pixels and labels: the speed of a step does not depend on what the images show.
Dataset synthetic_dataset(const InputSpec& in, int64_t size) {
    Dataset d;
    d.name = "synthetic";
    d.channels = in.channels;
    d.height = in.height;
    d.width = in.width;
    Generator gen(7);
    d.pixels.resize(static_cast<size_t>(size * in.channels * in.height * in.width));
    for (uint8_t& p : d.pixels) p = static_cast<uint8_t>(gen.next_u32() & 0xff);
    for (int64_t i = 0; i < size; ++i) d.labels.push_back(static_cast<int32_t>(gen.next_u32() % 10));
    for (int k = 0; k < 10; ++k) d.class_names.push_back(std::to_string(k));
    d.mean.assign(static_cast<size_t>(in.channels), 0.5f);
    d.std.assign(static_cast<size_t>(in.channels), 0.25f);
    return d;
}

std::shared_ptr<Sequential> model_for(const Row& r) {
    auto model = make_model(ModelConfig{.arch = r.model, .norm = r.norm}, input_of(r.model), 1);
    model->set_fuse_bn_relu(r.fuse_bn_relu);
    return model;
}

// The kinds of op a step's time is split into, as the issue names them.
const char* kind_of(const std::string& op) {
    static const std::map<std::string, const char*> kinds{
        {"conv2d", "conv"},          {"batch_norm", "bn"},      {"group_norm", "gn"},
        {"batch_norm_relu", "bn"},   {"batch_norm_relu_max_pool2d", "bnpool"},
        {"layer_norm", "ln"},        {"max_pool2d", "pool"},    {"avg_pool2d", "pool"},
        {"global_avg_pool2d", "pool"}, {"relu", "act"},         {"sigmoid", "act"},
        {"tanh", "act"},             {"linear", "linear"},      {"matmul", "linear"},
        {"cross_entropy", "loss"},   {"log_softmax", "loss"},   {"optimizer", "optim"},
        {"data", "data"}};
    const auto it = kinds.find(op);
    return it == kinds.end() ? "other" : it->second;
}

std::string shares(const Profiler& p) {
    std::map<std::string, double> seconds;
    double timed = 0;
    for (const Profiler::OpTime& t : p.ops()) {
        seconds[kind_of(t.op)] += t.forward_seconds + t.backward_seconds;
        timed += t.forward_seconds + t.backward_seconds;
    }
    seconds["other"] += p.step_seconds() - timed;  // tape bookkeeping, freeing buffers
    std::string out;
    for (const char* kind : {"conv", "bn", "bnpool", "gn", "ln", "pool", "act", "linear", "loss", "optim", "data", "other"})
        if (seconds.count(kind))
            out += fmt::format(" {}={:.1f}", kind, 100.0 * seconds[kind] / std::max(p.step_seconds(), 1e-12));
    return out;
}

// Trainer-style setup for one row: model, SGD with momentum 0.9, a prefetching loader.
struct TrainingRun {
    explicit TrainingRun(const Row& r)
        : data(synthetic_dataset(input_of(r.model), 8 * r.batch)),
          model(model_for(r)),
          optimizer(model->parameters(), 0.01, SGDOptions{.momentum = 0.9}),
          loader(data, LoaderOptions{.batch_size = r.batch, .drop_last = true, .seed = 1}) {
        model->train();
        loader.start_epoch(0);
    }
    // One step as Trainer::run takes it; returns the loss.
    float step() {
        {
            const ProfileScope profile("data");
            if (!loader.next(batch)) {
                loader.start_epoch(++epoch);
                loader.next(batch);
            }
        }
        const float loss = train_step(*model, optimizer, batch);
        if (!std::isfinite(loss)) throw Error("bench: the training loss diverged; the timing would be meaningless");
        return loss;
    }
    Dataset data;
    std::shared_ptr<Sequential> model;
    SGD optimizer;
    DataLoader loader;
    Batch batch;
    int64_t epoch = 0;
};

void bench_training(const Row& r, const TimingOptions& timing) {
    MemoryPool pool;
    TrainingRun run(r);
    Profiler profiler;
    const Timing t = bench::time_windows(
        [&] {
            run.step();
            profiler.end_step();
        },
        timing, [&] { profiler.reset(); });
    int64_t fresh = 0;
    for (int64_t f : profiler.fresh_per_step()) fresh = std::max(fresh, f);
    const auto prefix = fmt::format("{:<10} {:<5} {:>5} {:>3}", r.model, r.norm, r.batch, r.threads);
    std::printf("train   %s  %9.3f %9.0f %6.3f %4lld\n", prefix.c_str(), t.best * 1e3,
                static_cast<double>(r.batch) / t.best, t.spread(), static_cast<long long>(fresh));
    std::printf("share   %s %s\n", prefix.c_str(), shares(profiler).c_str());
    std::fflush(stdout);
}

void bench_inference(const Row& r, const TimingOptions& timing) {
    MemoryPool pool;
    auto model = model_for(r);
    model->eval();
    const InputSpec in = input_of(r.model);
    Generator gen(3);
    for (const auto& [batch, kind] : {std::pair<int64_t, const char*>{256, "infer"}, {1, "latency"}}) {
        const Tensor x = Tensor::randn({batch, in.channels, in.height, in.width}, gen);
        const Timing t = bench::time_windows([&] { model->forward(x); }, timing);
        std::printf("%-7s %-10s %-5s %5lld %3d  %9.3f %9.0f %6.3f\n", kind, r.model.c_str(), r.norm.c_str(),
                    static_cast<long long>(batch), r.threads, t.best * 1e3, static_cast<double>(batch) / t.best,
                    t.spread());
        std::fflush(stdout);
    }
}

// Peak resident memory of this process (VmHWM), in MiB.
double peak_rss_mib() {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
    return NAN;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app("bnlab training and inference benchmark (rows for bench/compare.py)");
    std::string models = "mlp,mnist-cnn,cifar-cnn", norms = "none,bn,gn", batches = "64,128";
    std::string threads = std::to_string(std::max(1u, std::thread::hardware_concurrency()));
    TimingOptions timing;
    bool no_train = false, no_inference = false, rss = false, no_fuse = false;
    app.add_option("--models", models, "comma-separated models")->capture_default_str();
    app.add_option("--norms", norms, "comma-separated norms")->capture_default_str();
    app.add_option("--batches", batches, "comma-separated training batch sizes")->capture_default_str();
    app.add_option("--threads", threads, "comma-separated thread counts")->capture_default_str();
    app.add_option("--windows", timing.windows, "timing windows per row")->capture_default_str();
    app.add_option("--window-seconds", timing.window_seconds, "minimum seconds per window")->capture_default_str();
    app.add_flag("--no-train", no_train, "skip the training rows");
    app.add_flag("--no-inference", no_inference, "skip the inference rows");
    app.add_flag("--no-fuse", no_fuse,
                 "every layer as its own op (default: BatchNorm + ReLU (+ 2x2 max pool) as one op, the conv's output "
                 "summed for the BatchNorm after it, a residual sum + ReLU as one op; layers/module.h)");
    app.add_flag("--rss", rss, "only: peak RSS of 20 training steps of the first model/norm/batch/threads");
    std::string conv = "auto";
    app.add_option("--conv", conv, "3x3 stride-1 convolutions: auto, im2col, winograd or direct (core/ops/winograd.h, direct_conv.h)")
        ->check(CLI::IsMember({"auto", "im2col", "winograd", "direct"}))
        ->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    const detail::ScopedConvAlgorithm conv_algorithm(conv == "im2col"     ? detail::ConvAlgorithm::im2col
                                                     : conv == "winograd" ? detail::ConvAlgorithm::winograd
                                                     : conv == "direct"   ? detail::ConvAlgorithm::direct
                                                                          : detail::ConvAlgorithm::automatic);

    try {
        if (rss) {
            const Row r{split(models).at(0), split(norms).at(0), std::stoll(split(batches).at(0)),
                        std::stoi(split(threads).at(0)), !no_fuse};
            set_num_threads(r.threads);
            MemoryPool pool;
            TrainingRun run(r);
            for (int i = 0; i < 20; ++i) run.step();
            std::printf("rss     %-10s %-5s %5lld %3d  %9.1f\n", r.model.c_str(), r.norm.c_str(),
                        static_cast<long long>(r.batch), r.threads, peak_rss_mib());
            return 0;
        }
        std::printf("# bnlab bench_train; OpenBLAS %s; windows %d x >= %.2f s\n", openblas_get_config(), timing.windows,
                    timing.window_seconds);
        std::printf("# kind   model      norm  batch thr   ms/iter  images/s spread fresh\n");
        for (const std::string& t : split(threads)) {
            set_num_threads(std::stoi(t));
            for (const std::string& model : split(models))
                for (const std::string& norm : split(norms)) {
                    if (!no_train)
                        for (const std::string& b : split(batches))
                            bench_training({model, norm, std::stoll(b), std::stoi(t), !no_fuse}, timing);
                    if (!no_inference) bench_inference({model, norm, 256, std::stoi(t), !no_fuse}, timing);
                }
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_train: %s\n", e.what());
        return 1;
    }
    return 0;
}
