#include "apps/train_command.h"

#include <fmt/format.h>

#include <memory>
#include <optional>
#include <sstream>

#include "apps/cli_common.h"
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

int run_train(const CLI::App* cmd, const TrainArgs& args) {
    const Dataset train = load_split(cmd, args.config.dataset, "train", {.data_dir = args.config.data_dir, .allow_partial = args.partial});
    const Dataset test = load_split(cmd, args.config.dataset, "test", {.data_dir = args.config.data_dir, .allow_partial = args.partial});
    Trainer trainer(args.config, train, test);
    // A spec is too long (and full of '-') for a folder name.
    const std::string name = is_model_name(args.config.model.arch) ? args.config.model.arch : "spec";
    const std::string out = args.out.empty() ? fmt::format("runs/{}-{}-seed{}", name, args.config.model.norm, args.config.seed)
                                             : args.out;
    std::unique_ptr<ConsoleProgress> progress;
    RunRecorder recorder(out, trainer, [&](const std::string& line) { progress->print(line); });
    progress = std::make_unique<ConsoleProgress>(recorder, name + "/" + args.config.model.norm);
    recorder.log(fmt::format("training {} (norm {}) on {}: {} train / {} test images, {} steps of batch {}, {} threads",
                             args.config.model.arch, args.config.model.norm, args.config.dataset, train.size(),
                             test.size(), trainer.total_steps(), args.config.batch_size, num_threads()));
    log_lines(recorder, "model " + resolved_spec(args.config.model) + "\n" +
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
    CLI::App* cmd = app.add_subcommand("train", "train a model; writes config.json, metrics.csv, train.log, model.safetensors");
    auto args = std::make_shared<TrainArgs>();
    add_train_flags(cmd, args->config, args->bn_momentum, args->norm_position);
    cmd->add_option("--out", args->out, "run directory (default runs/<model>-<norm>-seed<seed>)");
    cmd->add_flag("--profile", args->profile, "log the time per step spent in each op (forward, backward) at the end");
    cmd->add_flag("--partial", args->partial, "accept a data set folder missing some files (e.g. 2 of 5 CIFAR batches)");
    cmd->allow_extras();
    cmd->callback([cmd, args] {
        reject_extras(cmd);
        check_train_flags(cmd, args->config, args->bn_momentum, args->norm_position);
        int code = 0;
        run_guarded(cmd, [&] { code = run_train(cmd, *args); });
        if (code != 0) throw CLI::RuntimeError(code);
    });
}
