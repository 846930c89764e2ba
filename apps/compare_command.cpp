#include "apps/compare_command.h"

#include <fmt/format.h>

#include <memory>

#include "apps/cli_common.h"
#include "apps/progress.h"
#include "data/catalog.h"
#include "experiments/compare.h"
#include "models/zoo.h"

namespace bnlab::cli {
namespace {

struct CompareArgs {
    CompareConfig config;
    std::string arms = "none,bn", bn_momentum = "0.1", norm_position = "before", out = "runs/compare";
    bool partial = false, force = false;
    std::string command_line;
};

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= s.size()) {
        const size_t end = std::min(s.find(',', start), s.size());
        out.push_back(s.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

void run(const CLI::App* cmd, CompareArgs& args) {
    const TrainConfig& base = args.config.base;
    const Dataset train = load_split(cmd, base.dataset, "train", {.data_dir = base.data_dir, .allow_partial = args.partial});
    const Dataset test = load_split(cmd, base.dataset, "test", {.data_dir = base.data_dir, .allow_partial = args.partial});
    std::fflush(stdout);
    std::printf("compare %s on %s: arms %s x %d seeds, results in %s\n", base.model.arch.c_str(), base.dataset.c_str(),
                args.arms.c_str(), args.config.seeds, args.out.c_str());
    ConsoleProgress* current = nullptr;
    CompareCallbacks callbacks;
    callbacks.make_observer = [&](TrainObserver& recorder, const std::string& label) {
        auto progress = std::make_unique<ConsoleProgress>(recorder, label);
        current = progress.get();
        return std::unique_ptr<TrainObserver>(std::move(progress));
    };
    callbacks.run_finished = [&](const CompareRun& r) {
        current->print(r.result.diverged
                           ? fmt::format("{} seed {}: diverged at step {}", r.arm, r.seed, r.result.diverged_at)
                           : fmt::format("{} seed {}: test accuracy {:.2f}% after {} steps, {:.1f}s", r.arm, r.seed,
                                         100 * r.result.last.test_accuracy, r.result.steps, r.result.wall_seconds));
    };
    const CompareResult result = run_compare(args.config, train, test, args.out, callbacks);
    const std::string report = write_compare_report(result, args.config, args.out, args.command_line);

    std::printf("\n%-6s %-22s %-20s %-10s %s\n", "arm", "final test accuracy", "steps to target", "speed-up", "diverged");
    const ArmSummary& baseline = result.arms.front();
    for (const ArmSummary& s : result.arms) {
        const std::string steps = std::isnan(s.median_steps_to_target)
                                      ? fmt::format("not reached ({}/{})", s.reached, s.runs)
                                      : fmt::format("{:.0f} ({}/{})", s.median_steps_to_target, s.reached, s.runs);
        const double ratio = baseline.median_steps_to_target / s.median_steps_to_target;
        std::printf("%-6s %6.2f%% ± %-12s %-20s %-10s %d/%d\n", s.arm.c_str(), 100 * s.final_accuracy_mean,
                    fmt::format("{:.2f}%", 100 * s.final_accuracy_std).c_str(), steps.c_str(),
                    std::isnan(ratio) ? "n/a" : fmt::format("{:.2f}x", ratio).c_str(), s.diverged, s.runs);
    }
    std::printf("target: %.2f%% test accuracy; total wall time %.1fs\n", 100 * result.target, result.wall_seconds);
    std::printf("report: %s\nplots:  %s/plots/test_accuracy.png, %s/plots/train_loss.png\n", report.c_str(),
                args.out.c_str(), args.out.c_str());
}

}  // namespace
}  // namespace bnlab::cli

void add_compare_command(CLI::App& app, const std::string& command_line) {
    using namespace bnlab::cli;
    CLI::App* cmd = app.add_subcommand("compare", "train each arm (norm) x seed under identical conditions; "
                                                  "writes summary.csv, report.md and plots");
    auto args = std::make_shared<CompareArgs>();
    args->command_line = command_line;
    add_train_flags(cmd, args->config.base, args->bn_momentum, args->norm_position);
    cmd->add_option(flag("arms"), args->arms, "norms to compare, comma-separated: " + or_list(bnlab::norm_names()))
        ->capture_default_str();
    cmd->add_option(flag("seeds"), args->config.seeds, "seeds per arm")->capture_default_str();
    cmd->add_option(flag("first_seed"), args->config.first_seed, "first seed")->capture_default_str();
    cmd->add_option(flag("target"), args->config.target,
                    "test accuracy to reach, e.g. 0.85 (0: 95% of the weaker arm's final accuracy)")
        ->capture_default_str();
    cmd->add_option("--out", args->out, "output directory")->capture_default_str();
    cmd->add_flag("--force", args->force, "replace what a previous comparison left in the output directory");
    cmd->add_flag("--partial", args->partial, "accept a data set folder missing some files");
    cmd->allow_extras();
    cmd->callback([cmd, args] {
        reject_extras(cmd);
        args->config.arms = split_commas(args->arms);
        check_train_flags(cmd, args->config.base, args->bn_momentum, args->norm_position);
        check_usage(cmd, [&] { bnlab::validate(args->config); });
        if (!args->force) refuse_existing_output(cmd, args->out, "a previous comparison");
        run_guarded(cmd, [&] { run(cmd, *args); });
    });
}
