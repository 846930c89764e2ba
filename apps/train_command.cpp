#include "apps/train_command.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>

#include "apps/cli_common.h"
#include "apps/mpi_launch.h"
#include "apps/progress.h"
#include "core/cpu.h"
#include "core/parallel.h"
#include "core/profiler.h"
#include "data/catalog.h"
#include "models/summary.h"
#include "train/run_recorder.h"

namespace bnlab::cli {
namespace {

struct TrainArgs {
    TrainConfig config;
    std::string bn_momentum = "0.1", norm_position = "before", out, resume;
    int64_t save_every = 0;
    int64_t stop_after = 0;  // hidden, for tests: stop after this many steps as if interrupted
    bool partial = false, profile = false, force = false;
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

// The config of the stopped run into `run_dir` (its config.json, in staging_dir(run_dir) where
// an unfinished run lives: train/run_recorder.h), for --resume.
TrainConfig resumed_config(const CLI::App* cmd, const std::string& run_dir) {
    const std::string dir = staging_dir(run_dir);
    if (!std::filesystem::is_regular_file(checkpoint_path(dir)))
        fail(cmd, kUsageError, "--resume: " + run_dir + " holds no checkpoint of a stopped run (" + checkpoint_path(dir) +
                                   "): nothing to resume (was it trained with this version of bnlab?)");
    TrainConfig config;
    check_usage(cmd, [&] {
        std::ifstream in(dir + "/config.json");
        if (!in) throw Error(dir + "/config.json: cannot read it");
        try {
            config = config_from_json(nlohmann::json::parse(in));
        } catch (const nlohmann::json::exception& e) {
            throw Error(dir + "/config.json: " + e.what());
        }
    });
    return config;
}

// --resume continues the run as it was configured: a training flag given with it would be
// silently ignored, so it is an error. --threads and --kernels may change (results then agree to rounding).
void reject_flags_with_resume(const CLI::App* cmd) {
    for (const CLI::Option* option : cmd->get_options()) {
        const std::string name = option->get_name();
        if (option->count() == 0 || name == "--resume" || name == flag("threads") || name == "--kernels" || name == "--save-every" ||
            name == "--profile" || name == "--partial" || name == "--stop-after" || name == "--help")
            continue;
        fail(cmd, kUsageError, name + " cannot be combined with --resume: the run continues with the config in "
                                      "RUN_DIR/config.json");
    }
}

int run_train(const CLI::App* cmd, const TrainArgs& args, MpiCollective* world) {
    TrainConfig config = args.config;
    const Dataset train = load_split(cmd, config.dataset, "train", {.data_dir = config.data_dir, .allow_partial = args.partial});
    const Dataset test = load_split(cmd, config.dataset, "test", {.data_dir = config.data_dir, .allow_partial = args.partial});
    config.ranks = world ? world->size() : 1;
    Trainer trainer(config, train, test, world);
    const std::string& out = args.out;
    // A run lives in staging_dir(out) until it finishes (train/run_recorder.h), its checkpoints too.
    const std::string checkpoint = checkpoint_path(staging_dir(out));
    if (!args.resume.empty()) trainer.load_checkpoint(checkpoint);  // every rank
    if (world && world->rank() != 0) {  // rank 0 writes the run directory and prints; the others only train
        TrainObserver quiet;
        return trainer.run(quiet).diverged ? kDiverged : 0;
    }
    // A spec is too long (and full of '-') for a folder name.
    const std::string name = is_model_name(config.model.arch) ? config.model.arch : "spec";
    std::unique_ptr<ConsoleProgress> progress;
    const auto echo = [&](const std::string& line) { progress->print(line); };
    std::unique_ptr<RunRecorder> recorder;
    if (args.resume.empty()) recorder = std::make_unique<RunRecorder>(out, trainer, echo);
    else recorder = std::make_unique<RunRecorder>(RunRecorder::Resume{}, out, trainer, echo);
    progress = std::make_unique<ConsoleProgress>(*recorder, name + "/" + config.model.norm);
    if (!args.resume.empty())
        recorder->log(fmt::format("resuming from {} at step {} of {}", checkpoint, trainer.step(),
                                  trainer.total_steps()));
    // The data set sizes as trained on: --limit N uses N images of the full split.
    const auto used = [](int64_t limit, const Dataset& data, const std::string& limit_flag) {
        const int64_t n = limit > 0 ? std::min(limit, data.size()) : data.size();
        return n < data.size() ? fmt::format("{} ({}, of {})", n, limit_flag, data.size()) : std::to_string(n);
    };
    recorder->log(fmt::format("training {} (norm {}) on {}: {} train images / {} test, {} steps of batch {}, {} threads{}",
                              config.model.arch, config.model.norm, config.dataset,
                              used(config.train_limit, train, flag("train_limit")),
                              used(config.test_limit, test, flag("test_limit")), trainer.total_steps(), config.batch_size,
                              num_threads(), world ? fmt::format(" per rank x {} ranks", world->size()) : ""));
    recorder->log("kernels " + kernels_description());
    if (trainer.data_parallel()) recorder->log(describe_parallel(trainer, config.batch_size));
    log_lines(*recorder, "model " + resolved_spec(config.model) + "\n" +
                             format_summary(summarize(trainer.model(), {train.channels, train.height, train.width})));
    trainer.set_checkpointing({.path = checkpoint, .every_steps = args.save_every, .every_epoch = true});
    std::optional<Profiler> profiler;
    if (args.profile) profiler.emplace();
    const RunResult result = trainer.run(*progress, args.stop_after);
    if (profiler) {
        log_lines(*recorder, "time per training step by op (--profile)\n" + profiler->report());
    }
    if (!result.diverged && result.steps < trainer.total_steps()) {
        recorder->log(fmt::format("stopped at step {} (--stop-after); continue with --resume {}", result.steps, out));
        return 0;
    }
    recorder->finish(result, trainer);
    progress->print("wrote " + out + "/{config.json, metrics.csv, train.log, model.safetensors, checkpoint.safetensors}");
    return result.diverged ? kDiverged : 0;
}

}  // namespace

}  // namespace bnlab::cli

void add_train_command(CLI::App& app) {
    using namespace bnlab::cli;
    CLI::App* cmd = app.add_subcommand("train", "train a model; writes config.json, metrics.csv, train.log, model.safetensors "
                                                "and checkpoint.safetensors (mpirun -np N bnlab train ...: data-parallel over N processes)");
    auto args = std::make_shared<TrainArgs>();
    add_train_flags(cmd, args->config, args->bn_momentum, args->norm_position);
    cmd->add_option("--out", args->out, "run directory (default runs/<model>-<norm>-seed<seed>)");
    cmd->add_flag("--force", args->force, "replace what a previous run left in the run directory");
    cmd->add_option("--save-every", args->save_every,
                    "also write the checkpoint every N steps (it is always written at the end of every epoch)")
        ->capture_default_str();
    cmd->add_option("--resume", args->resume, "continue the interrupted run in RUN_DIR from its checkpoint, "
                                              "bit-identically (with the same --threads)");
    cmd->add_option("--stop-after", args->stop_after, "stop after N steps, as if interrupted")->group("");
    cmd->add_flag("--profile", args->profile, "log the time per step spent in each op (forward, backward) at the end");
    cmd->add_flag("--partial", args->partial, "accept a data set folder missing some files (e.g. 2 of 5 CIFAR batches)");
    cmd->allow_extras();
    cmd->callback([cmd, args] {
        reject_extras(cmd);
        if (args->save_every < 0) fail(cmd, kUsageError, "--save-every: must be 0 (epoch ends only) or positive");
        if (!args->resume.empty()) {
            reject_flags_with_resume(cmd);
            if (!args->out.empty() && args->out != args->resume)
                fail(cmd, kUsageError, "--out: the resumed run is written where it was, in " + args->resume);
            const int threads = args->config.threads;
            args->config = resumed_config(cmd, args->resume);
            if (cmd->get_option(flag("threads"))->count() > 0) args->config.threads = threads;
            args->out = args->resume;
        } else {
            check_train_flags(cmd, args->config, args->bn_momentum, args->norm_position);
            if (args->out.empty())
                args->out = fmt::format("runs/{}-{}-seed{}", bnlab::is_model_name(args->config.model.arch) ? args->config.model.arch : "spec",
                                        args->config.model.norm, args->config.seed);
        }
        // Under mpirun -np N: every rank runs this; MPI ends when `world` goes.
        std::unique_ptr<bnlab::MpiCollective> world = join_launched_group(cmd, args->config.bn_sync);
        int code = 0;
        run_on_ranks(cmd, world.get(), [&] {
            // Only rank 0 looks: it alone writes the run directory, and a slower rank could
            // otherwise find the directory rank 0 has just created and refuse (its refusal
            // stops every rank).
            if (args->resume.empty() && !args->force && (!world || world->rank() == 0)) {
                // The finished run, and a stopped one (staged in DIR.partial) that --resume continues.
                refuse_existing_output(cmd, args->out, "a previous run", " or --resume " + args->out + " to continue it");
                refuse_existing_output(cmd, bnlab::staging_dir(args->out), "a stopped run",
                                       " or --resume " + args->out + " to continue it");
            }
            code = run_train(cmd, *args, world.get());
        });
        if (code != 0) throw CLI::RuntimeError(code);
    });
}
