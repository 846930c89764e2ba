#pragma once
#include <CLI/CLI.hpp>

// bnlab compare: arms x seeds of the same run, paired; writes summary.csv, report.md, plots.
// `command_line` is quoted in the report so anyone can rerun it.
void add_compare_command(CLI::App& app, const std::string& command_line);
