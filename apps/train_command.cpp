#include "apps/train_command.h"

#include <fmt/format.h>

#include <memory>
#include <optional>
#include <sstream>

#include "apps/cli_common.h"
#include "apps/mpi_launch.h"
#include "apps/progress.h"
#include "core/parallel.h"
#include "core/profiler.h"
#include "data/catalog.h"
#include "models/summary.h"
#include "train/run_recorder.h"

namespace bnlab::cli {
namespace {

struct TrainArgs {
    TrainConfig config;
    std::string bn_momentum = "0.1", norm_position = "before", out;
    bool partial = false, profile = false;
};

// Each line of `text` into train.log (and onto the console).
void log_lines(RunRecorder& recorder, const std::string& text) {
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) recorder.log(line);
}

// One line about the data-parallel setup, e.g. "data parallel: 2 ranks x batch 64 = global
// batch 128, bn-sync none; allreduce per step 1.14 MB (...)".
std::string describe_parallel(const Trainer& trainer, int64_t global_batch) {
    const DataParallel* parallel = trainer.data_parallel();
    const DataParallel::Traffic t = parallel->traffic_per_step();
    const int ranks = trainer.config().ranks;
    const int64_t smallest = global_batch / ranks, largest = (global_batch + ranks - 1) / ranks;
    return fmt::format("data parallel: {} ranks x batch {} = global batch {}, {} {}; allreduce per step and rank "
                       "{:.3f} MB (gradients {} B in {} buckets, running buffers {} B, BatchNorm sync {} B)",
                       ranks, smallest == largest ? std::to_string(smallest) : fmt::format("{}-{}", smallest, largest),
                       global_batch, flag("bn_sync"), bn_sync_name(parallel->mode()), static_cast<double>(t.total()) / 1e6,
                       t.gradient_bytes, t.buckets, t.buffer_bytes, t.bn_sync_bytes);
}

int run_train(const CLI::App* cmd, const TrainArgs& args, MpiCollective* world) {
    const Dataset train = load_split(cmd, args.config.dataset, "train", {.data_dir = args.config.data_dir, .allow_partial = args.partial});
    const Dataset test = load_split(cmd, args.config.dataset, "test", {.data_dir = args.config.data_dir, .allow_partial = args.partial});
    TrainConfig config = args.config;
    config.ranks = world ? world->size() : 1;
    Trainer trainer(config, train, test, world);
    if (world && world->rank() != 0) {  // rank 0 writes the run directory and prints; the others only train
        TrainObserver quiet;
        return trainer.run(quiet).diverged ? kDiverged : 0;
    }
    // A spec is too long (and full of '-') for a folder name.
    const std::string name = is_model_name(config.model.arch) ? config.model.arch : "spec";
    const std::string out = args.out.empty() ? fmt::format("runs/{}-{}-seed{}", name, config.model.norm, config.seed)
                                             : args.out;
    std::unique_ptr<ConsoleProgress> progress;
    RunRecorder recorder(out, trainer, [&](const std::string& line) { progress->print(line); });
    progress = std::make_unique<ConsoleProgress>(recorder, name + "/" + config.model.norm);
    recorder.log(fmt::format("training {} (norm {}) on {}: {} train / {} test images, {} steps of batch {}, {} threads{}",
                             config.model.arch, config.model.norm, config.dataset, train.size(),
                             test.size(), trainer.total_steps(), config.batch_size, num_threads(),
                             world ? fmt::format(" per rank x {} ranks", world->size()) : ""));
    if (trainer.data_parallel()) recorder.log(describe_parallel(trainer, config.batch_size));
    log_lines(recorder, "model " + resolved_spec(config.model) + "\n" +
                            format_summary(summarize(trainer.model(), {train.channels, train.height, train.width})));
    std::optional<Profiler> profiler;
    if (args.profile) profiler.emplace();
    const RunResult result = trainer.run(*progress);
    if (profiler) {
        log_lines(recorder, "time per training step by op (--profile)\n" + profiler->report());
    }
    recorder.finish(result, trainer);
    progress->print("wrote " + out + "/{config.json, metrics.csv, train.log, model.safetensors}");
    return result.diverged ? kDiverged : 0;
}

}  // namespace

}  // namespace bnlab::cli

void add_train_command(CLI::App& app) {
    using namespace bnlab::cli;
    CLI::App* cmd = app.add_subcommand("train", "train a model; writes config.json, metrics.csv, train.log, model.safetensors "
                                                "(mpirun -np N bnlab train ...: data-parallel over N processes)");
    auto args = std::make_shared<TrainArgs>();
    add_train_flags(cmd, args->config, args->bn_momentum, args->norm_position);
    cmd->add_option("--out", args->out, "run directory (default runs/<model>-<norm>-seed<seed>)");
    cmd->add_flag("--profile", args->profile, "log the time per step spent in each op (forward, backward) at the end");
    cmd->add_flag("--partial", args->partial, "accept a data set folder missing some files (e.g. 2 of 5 CIFAR batches)");
    cmd->allow_extras();
    cmd->callback([cmd, args] {
        reject_extras(cmd);
        check_train_flags(cmd, args->config, args->bn_momentum, args->norm_position);
        // Under mpirun -np N: every rank runs this; MPI ends when `world` goes.
        std::unique_ptr<bnlab::MpiCollective> world = join_launched_group(cmd, args->config.bn_sync);
        int code = 0;
        run_on_ranks(cmd, world.get(), [&] { code = run_train(cmd, *args, world.get()); });
        if (code != 0) throw CLI::RuntimeError(code);
    });
}
