// The data-parallel checks over real MPI processes: run by ctest as
//   mpirun --oversubscribe -np 2 test_mpi_data_parallel
// (cmake/tests.cmake, only where CMake found MPI). Every rank runs every test case; each
// compares its own results with the single-process computation it also does itself.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "core/ops.h"
#include "core/tape.h"
#include "tests/data_parallel_checks.h"
#include "train/mpi_collective.h"

using namespace bnlab;
using namespace bnlab::testing;

namespace {
MpiCollective* world = nullptr;
}

TEST_CASE("MPI: sync_batch_norm over 2 ranks x B/2 equals batch_norm over B (forward, backward, running stats)",
          "[mpi]") {
    REQUIRE(world->size() == 2);
    Generator gen(4);
    const int64_t B = 8, C = 3;
    const Tensor x = Tensor::randn({B, C, 4, 4}, gen, 2.0f, 3.0f), dy = Tensor::randn({B, C, 4, 4}, gen);
    const auto run = [&](const Tensor& xs, const Tensor& dys, bool sync) {
        Tensor xg = xs.clone().set_requires_grad(), w = Tensor::full({C}, 1.5f).set_requires_grad();
        Tensor rm = Tensor::zeros({C}), rv = Tensor::ones({C});
        Tape tape;
        Tensor y = sync ? sync_batch_norm(xg, rm, rv, w, Tensor(), *world) : batch_norm(xg, rm, rv, w, Tensor(), true);
        tape.backward(y, dys);
        std::vector<float> dw = w.grad().to_vector();
        if (sync) world->allreduce_sum(std::span<float>(dw));  // what the gradient allreduce does
        return std::vector<std::vector<float>>{y.to_vector(), xg.grad().to_vector(), dw, rm.to_vector(), rv.to_vector()};
    };
    const auto single = run(x, dy, false);
    const int r = world->rank();
    const Tensor xs = shard_images(x, r, 2), dys = shard_images(dy, r, 2);
    const auto mine = run(xs, dys, true);
    const size_t half = single[0].size() / 2;
    for (int k : {0, 1}) {
        const std::vector<float> expected(single[k].begin() + r * half, single[k].begin() + (r + 1) * half);
        CHECK(max_relative_difference(mine[k], expected) < 1e-5);
    }
    for (int k : {2, 3, 4}) CHECK(max_relative_difference(mine[k], single[k]) < 1e-5);
}

TEST_CASE("MPI: data-parallel training equals one process (bn-sync all: BN over B; none: ghost BN of B/2)", "[mpi]") {
    const std::vector<Batch> batches = random_batches(3, 12);
    for (const BnSync mode : {BnSync::all, BnSync::none}) {
        INFO("bn-sync " << bn_sync_name(mode));
        const TrainedState single = single_process_equivalent(mode, world->size(), batches);
        const TrainedState mine = data_parallel_run(*world, mode, batches);
        CHECK(max_relative_difference(mine.state, single.state) < 1e-5);
        CHECK(max_relative_difference(mine.losses, single.losses) < 1e-6);
        // Every rank holds the same weights: rank 0's, bit for bit.
        std::vector<float> rank0 = mine.state;
        world->broadcast(std::span<float>(rank0), 0);
        CHECK(rank0 == mine.state);
    }
}

TEST_CASE("MPI: gather collects every rank's bytes in rank order on rank 0", "[mpi]") {
    const std::string mine(static_cast<size_t>(world->rank() + 1), static_cast<char>('a' + world->rank()));
    const auto gathered = world->gather(std::as_bytes(std::span<const char>(mine)), 0);
    if (world->rank() != 0) {
        CHECK(gathered.empty());
        return;
    }
    REQUIRE(gathered.size() == static_cast<size_t>(world->size()));
    for (int r = 0; r < world->size(); ++r)
        CHECK(std::string(reinterpret_cast<const char*>(gathered[r].data()), gathered[r].size()) ==
              std::string(static_cast<size_t>(r + 1), static_cast<char>('a' + r)));
}

int main(int argc, char** argv) {
    auto mpi = start_mpi();
    world = mpi.get();
    const int failed = Catch::Session().run(argc, argv);
    // A rank that failed must fail the whole run: sum the failures.
    std::array<double, 1> failures{static_cast<double>(failed)};
    world->allreduce_sum(std::span<double>(failures));
    return failures[0] > 0 ? 1 : 0;
}
