#pragma once

#include <CLI/CLI.hpp>

// Hidden commands that write bnlab's documentation from the command-line definition itself,
// so it can never drift from the flags: `bnlab man` (the man page bnlab.1, troff) and
// `bnlab completion bash` (a bash completion script). CMake runs both at build time and
// installs what they write (CMakeLists.txt). Add them after every other command.
void add_docs_commands(CLI::App& app);
