#pragma once
#include <CLI/CLI.hpp>
#include <string>

// bnlab claims list | run NAME|all: the BatchNorm claims as experiments (experiments/claims/).
void add_claims_command(CLI::App& app, const std::string& command_line);
