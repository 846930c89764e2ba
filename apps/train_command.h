#pragma once
#include <CLI/CLI.hpp>

// bnlab train: trains one model and writes its run directory (experiments/run_recorder.h).
void add_train_command(CLI::App& app);
