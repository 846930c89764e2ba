#pragma once
#include <CLI/CLI.hpp>

// bnlab summary: a model's layers with output shapes, parameters and forward FLOPs
// (models/summary.h), for the input of a data set.
// Exit codes: 0 success, 2 usage error (a bad model name or spec, a bad flag).
void add_summary_command(CLI::App& app);
