// `bnlab eval`: a saved model on a data set split -> loss, accuracy, per-class accuracy and
// the confusion matrix, printed as tables and optionally written as JSON.
#pragma once

#include <CLI/CLI.hpp>

// Exit codes: 0 success, 1 runtime failure (unreadable model or data files),
// 2 usage error (bad flags, missing model file, a data set that does not fit the model).
void add_eval_command(CLI::App& app);
