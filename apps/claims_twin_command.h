#pragma once
#include <CLI/CLI.hpp>
#include <string>

// bnlab claims twin-run | twin-report: three claims run the same way in bnlab and PyTorch
// (experiments/claims/twins.h, experiments/twins/twin.py, experiments/claims/twin_report.h).
void add_claims_twin_commands(CLI::App* claims, const std::string& command_line);
