#include "apps/claims_command.h"

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "apps/claims_twin_command.h"
#include "apps/cli_common.h"
#include "apps/mpi_launch.h"
#include "core/parallel.h"
#include "data/catalog.h"
#include "experiments/claims/claim.h"

namespace bnlab::cli {
namespace {

struct ClaimsArgs {
    std::string name;
    claims::ClaimOptions options;
    bool force = false;
};

void list_claims() {
    for (const claims::Claim& c : claims::all_claims())
        std::printf("%-16s %s\n%-16s %s\n\n", c.name.c_str(), c.title.c_str(), "", c.statement.c_str());
}

// Under `mpirun -np N`, every rank runs the claims' code; the training runs of their sweeps are
// spread over the ranks (ClaimContext::spread) and rank 0 writes the reports and the index.
void run_claims(const CLI::App* command, ClaimsArgs& args, MpiCollective* world) {
    const bool writer = !world || world->rank() == 0;
    args.options.group = world;
    std::vector<const claims::Claim*> selected;
    if (args.name == "all") {
        for (const claims::Claim& c : claims::all_claims()) selected.push_back(&c);
    } else if (const claims::Claim* c = claims::find_claim(args.name)) {
        selected.push_back(c);
    } else {
        std::string names;
        for (const claims::Claim& c : claims::all_claims()) names += c.name + ", ";
        fail(command, kUsageError, "unknown claim '" + args.name + "': use one of " + names + "or all");
    }
    // Rank 0 alone looks, before any rank writes (a refusal stops every rank).
    if (!args.force && !args.options.reuse_finished_runs && writer)
        for (const claims::Claim* c : selected)
            refuse_existing_output(command, args.options.out_dir + "/" + c->name, "the report of claim " + c->name);
    if (world) world->barrier();
    args.options.log = [prefix = rank_prefix(world)](const std::string& line) {
        std::printf("%s%s\n", prefix.c_str(), line.c_str());
        std::fflush(stdout);
    };
    for (const claims::Claim* c : selected) {
        const claims::ClaimOutcome outcome = claims::run_claim(*c, args.options);
        if (writer)
            std::printf("\n%s: %s (%.1f min)\n  %s\n  report: %s\n\n", outcome.name.c_str(), outcome.verdict.c_str(),
                        outcome.wall_seconds / 60, outcome.reason.c_str(), outcome.report_path.c_str());
    }
    if (writer) std::printf("index: %s\n", claims::write_index(args.options.out_dir).c_str());
}

}  // namespace
}  // namespace bnlab::cli

void add_claims_command(CLI::App& app, const std::string& command_line) {
    using namespace bnlab::cli;
    CLI::App* cmd = app.add_subcommand("claims", "put the common claims about BatchNorm to the test");
    cmd->callback([cmd] {
        if (cmd->get_subcommands().empty()) fail(cmd, kUsageError, "missing a subcommand: list, run, index, twin-run or twin-report");
    });
    CLI::App* list = cmd->add_subcommand("list", "the claims, as people state them");
    list->allow_extras();
    list->callback([list] {
        reject_extras(list);
        list_claims();
    });
    CLI::App* run = cmd->add_subcommand("run", "run one claim (or all) and write its report");
    auto args = std::make_shared<ClaimsArgs>();
    args->options.command_line = command_line;
    run->add_option("claim", args->name, "a claim name (see bnlab claims list) or all");
    run->add_flag("--quick", args->options.quick, "the small profile (each claim in about 2 minutes): a smoke test");
    run->add_option("--seeds", args->options.seeds, "paired seeds per arm (0: the claim's default)")->capture_default_str();
    run->add_option(flag("dataset"), args->options.dataset, "data set instead of the claim's default")
        ->check(one_of("data set", bnlab::dataset_choices(), bnlab::is_valid_dataset_name));
    run->add_option("--data-dir", args->options.data_dir,
                    "folder searched first for data sets (then $BNLAB_DATA, ./data, /usr/share/datasets)");
    run->add_option("--threads", args->options.threads, "threads (0: the cores no other process is busy on)")->capture_default_str();
    add_kernels_flag(run);
    run->add_option("--out", args->options.out_dir, "output directory (each claim writes OUT/<claim>/)")->capture_default_str();
    run->add_flag("--force", args->force, "replace a claim's previous report in OUT/<claim>/");
    run->add_flag("--resume", args->options.reuse_finished_runs,
                  "continue an interrupted claim run in OUT: runs it finished with the same settings are read back, "
                  "not trained again (convergence, learning-rate, init-scale, placement, regularization; the other claims train every run)");
    run->allow_extras();
    run->callback([run, args] {
        reject_extras(run);
        if (args->name.empty()) fail(run, kUsageError, "missing the claim name (see bnlab claims list) or all");
        if (args->options.seeds < 0) fail(run, kUsageError, "--seeds: must be >= 0");
        if (args->options.threads < 0 || args->options.threads > bnlab::kMaxThreads)
            fail(run, kUsageError, fmt::format("--threads: must be in [0, {}] (0: the cores no other process is busy on), got {}", bnlab::kMaxThreads,
                                               args->options.threads));
        std::unique_ptr<bnlab::MpiCollective> world = join_launched_group(run, "none");
        run_on_ranks(run, world.get(), [&] { run_claims(run, *args, world.get()); });
    });
    CLI::App* index = cmd->add_subcommand("index", "rewrite DIR/index.md from the claims' summaries in DIR");
    auto index_dir = std::make_shared<std::string>("results/claims");
    index->add_option("--out", *index_dir, "the directory claims were run into")->capture_default_str();
    index->allow_extras();
    index->callback([index, index_dir] {
        reject_extras(index);
        if (!std::filesystem::is_directory(*index_dir))
            fail(index, kUsageError, "--out: '" + *index_dir + "' is not a directory");
        run_guarded(index, [&] { std::printf("index: %s\n", bnlab::claims::write_index(*index_dir).c_str()); });
    });
    add_claims_twin_commands(cmd, command_line);
}
