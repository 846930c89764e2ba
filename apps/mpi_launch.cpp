#include "apps/mpi_launch.h"

#include <fmt/format.h>

#include "apps/cli_common.h"

namespace bnlab::cli {

std::unique_ptr<MpiCollective> join_launched_group(const CLI::App* command, const std::string& bn_sync) {
    const int launched = launcher_world_size();
    if (!mpi_available() && (launched > 1 || bn_sync == "all"))
        fail(command, kUsageError,
             (launched > 1 ? fmt::format("launched on {} processes, but ", launched) : flag("bn_sync") + " all: ") +
                 mpi_missing_message());
    if (launched <= 1) return nullptr;
    return start_mpi();
}

void run_on_ranks(const CLI::App* command, MpiCollective* world, const std::function<void()>& body) {
    if (!world || world->size() == 1) return run_guarded(command, body);
    try {
        run_guarded(command, body);
    } catch (const CLI::RuntimeError& e) {
        if (e.get_exit_code() != 0) {
            report(command, rank_prefix(world) + "failed: stopping every rank");
            world->abort(e.get_exit_code());
        }
        throw;
    }
}

std::string rank_prefix(const MpiCollective* world) {
    return world && world->size() > 1 ? fmt::format("rank {}/{}: ", world->rank(), world->size()) : "";
}

}  // namespace bnlab::cli
