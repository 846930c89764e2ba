#pragma once
#include <CLI/CLI.hpp>

// bnlab train: trains one model and writes its run directory (train/run_recorder.h).
void add_train_command(CLI::App& app);
