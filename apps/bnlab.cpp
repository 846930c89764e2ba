// bnlab command line (minimal until the CLI issue): prints the build's configuration.
#include <cblas.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "apps/data_command.h"
#include "core/parallel.h"

int main(int argc, char** argv) {
    CLI::App app{"bnlab: what batch normalization does to training, end to end"};
    app.set_version_flag("--version", "bnlab 0.1");
    app.require_subcommand(0, 1);
    add_data_command(app);
    CLI11_PARSE(app, argc, argv);
    std::printf("bnlab 0.1, OpenBLAS %s, %d threads\n", openblas_get_config(), bnlab::num_threads());
    return 0;
}
