// bnlab: the command line. Each subcommand lives in its own apps/<name>_command.cpp and only
// wires library pieces together.
//
// Exit codes: 0 success, 1 runtime failure (unreadable file, ...), 2 usage error (bad flag),
// 3 training diverged (a NaN or infinite loss). Any exception no command handled is exit
// code 1 with one line naming it (apps/uncaught.h), never an abort.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "apps/claims_command.h"
#include "apps/cli_common.h"
#include "apps/compare_command.h"
#include "apps/data_command.h"
#include "apps/docs_command.h"
#include "apps/eval_command.h"
#include "apps/graph_command.h"
#include "apps/predict_command.h"
#include "apps/summary_command.h"
#include "apps/train_command.h"
#include "apps/uncaught.h"

namespace {

int run_bnlab(int argc, char** argv) {
    CLI::App app{"bnlab: what batch normalization does to training, end to end"};
    app.set_version_flag("--version", "bnlab 0.1");
    app.require_subcommand(1);
    add_train_command(app);
    std::string command_line = "bnlab";
    for (int i = 1; i < argc; ++i) command_line += std::string(" ") + argv[i];
    add_compare_command(app, command_line);
    add_claims_command(app, command_line);
    add_eval_command(app);
    add_predict_command(app);
    add_data_command(app);
    add_summary_command(app);
    add_graph_command(app);
    add_docs_commands(app);  // last: it documents the others
    if (argc > 1 && argv[1][0] != '-') {
        bool known = false;
        std::string names;
        for (const CLI::App* sub : app.get_subcommands({})) {
            known = known || sub->get_name() == argv[1];
            if (!sub->get_group().empty()) names += (names.empty() ? "" : ", ") + sub->get_name();  // not the hidden ones
        }
        if (!known) {
            std::fprintf(stderr, "bnlab: unknown command '%s' (commands: %s; see bnlab --help)\n", argv[1], names.c_str());
            return bnlab::cli::kUsageError;
        }
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {  // --help, --version
        return app.exit(e);
    } catch (const CLI::RuntimeError& e) {  // a command's own failure, already reported
        return e.get_exit_code();
    } catch (const CLI::ParseError& e) {  // a usage error CLI11 found: report it, exit 2
        app.exit(e);
        return bnlab::cli::kUsageError;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run_bnlab(argc, argv);
    } catch (...) {
        std::fprintf(stderr, "bnlab: %s\n", bnlab::cli::uncaught_message(std::current_exception()).c_str());
        return bnlab::cli::kRuntimeFailure;
    }
}
