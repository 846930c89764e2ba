// `bnlab predict`: a saved model + image files -> the top-k classes of each image with their
// probabilities.
#pragma once

#include <CLI/CLI.hpp>

// Exit codes: 0 success, 1 runtime failure (the model file cannot be read), 2 usage error
// (bad flags, a missing model file, no images, or any image that cannot be read: the readable
// ones are still predicted).
void add_predict_command(CLI::App& app);
