#pragma once

#include <CLI/CLI.hpp>

// `bnlab graph`: one forward+backward step of a model on one batch, drawn from its tape as
// Graphviz DOT (and SVG or PNG through Graphviz's dot, when installed).
void add_graph_command(CLI::App& app);
