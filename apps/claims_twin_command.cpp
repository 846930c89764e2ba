#include "apps/claims_twin_command.h"

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "apps/cli_common.h"
#include "experiments/claims/twin_report.h"

namespace bnlab::cli {
namespace {

void print_line(const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
}

void add_twin_run(CLI::App* claims, const std::string& command_line) {
    CLI::App* run = claims->add_subcommand(
        "twin-run", "write the twin protocol (inits, batch orders) for PyTorch and run it in bnlab");
    auto options = std::make_shared<bnlab::claims::TwinOptions>();
    auto force = std::make_shared<bool>(false);
    options->command = command_line;
    run->add_option("--out", options->out_dir, "output directory (protocol.json, runs/, bnlab.json)")->required();
    run->add_option("--threads", options->threads, "threads, in bnlab and in PyTorch")->capture_default_str();
    run->add_option("--data-dir", options->data_dir,
                    "folder searched first for Fashion-MNIST (then $BNLAB_DATA, ./data, /usr/share/datasets)");
    run->add_flag("--force", *force, "write into OUT even if it holds a previous twin run");
    run->add_flag("--tiny", options->tiny, "a tiny profile (seconds): a smoke test of the pipeline")->group("");
    run->allow_extras();
    run->callback([run, options, force] {
        reject_extras(run);
        if (options->threads < 1) fail(run, kUsageError, "--threads: must be >= 1");
        if (!*force) refuse_existing_output(run, options->out_dir, "a previous twin run");
        options->log = print_line;
        run_guarded(run, [&] { bnlab::claims::run_twins(*options); });
    });
}

void add_twin_report(CLI::App* claims, const std::string& command_line) {
    CLI::App* report = claims->add_subcommand(
        "twin-report", "compare DIR/bnlab.json with DIR/pytorch.json: key numbers and verdicts side by side");
    auto dir = std::make_shared<std::string>();
    auto out = std::make_shared<std::string>("results/claims/twins.md");
    report->add_option("dir", *dir, "the twin-run directory (with pytorch.json from experiments/twins/twin.py)")
        ->required();
    report->add_option("--out", *out, "the markdown report to write")->capture_default_str();
    report->allow_extras();
    report->callback([report, dir, out, command_line] {
        reject_extras(report);
        if (!std::filesystem::is_directory(*dir)) fail(report, kUsageError, "DIR: '" + *dir + "' is not a directory");
        run_guarded(report, [&] {
            const auto comparison = bnlab::claims::write_twin_report(*dir, *out, command_line);
            int disagree = 0;
            for (const auto& row : comparison.rows) disagree += !row.agree();
            const auto* worst = comparison.worst_first_step();
            print_line(fmt::format("{}: {} rows, {} disagreement(s); worst step-1 loss difference {:.1e}", *out,
                                   comparison.rows.size(), disagree, worst ? worst->first_loss_difference : NAN));
        });
    });
}

}  // namespace
}  // namespace bnlab::cli

void add_claims_twin_commands(CLI::App* claims, const std::string& command_line) {
    bnlab::cli::add_twin_run(claims, command_line);
    bnlab::cli::add_twin_report(claims, command_line);
}
