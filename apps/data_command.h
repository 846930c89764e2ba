// `bnlab data`: list, inspect, show, verify and download data sets.
#pragma once

#include <CLI/CLI.hpp>

// Adds the `data` subcommand and its subcommands (list, info, show, verify, download) to `app`.
// Exit codes: 0 success, 1 runtime failure (bad or missing files, download failed),
// 2 usage error (unknown data set or split, missing or unexpected arguments).
void add_data_command(CLI::App& app);
