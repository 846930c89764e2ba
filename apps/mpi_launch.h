// Commands launched by mpirun / srun: joining the launched process group, and failing on
// every rank at once.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "train/mpi_collective.h"

namespace bnlab::cli {

// The process group this command was launched in (MPI started here, finalized when the
// returned object goes), or nullptr when one process runs it. A launch on several processes
// by a build without MPI, or --bn-sync all there, is a usage error (exit 2) that says how to
// get MPI.
std::unique_ptr<MpiCollective> join_launched_group(const CLI::App* command, const std::string& bn_sync);

// run_guarded(command, body) on every rank; under `world`, a rank whose body fails reports it
// and aborts every rank (exit code 1) instead of leaving them blocked in a collective.
void run_on_ranks(const CLI::App* command, MpiCollective* world, const std::function<void()>& body);

// "rank 1/2: " under a group of several ranks, "" otherwise (prefix of messages a rank prints).
std::string rank_prefix(const MpiCollective* world);

}  // namespace bnlab::cli
