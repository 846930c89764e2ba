// Collective: the few operations that data-parallel training needs from a group of
// processes ("ranks"), as an interface, so that core/ knows nothing of MPI.
//
// Every rank of the group must make the same calls in the same order with spans of the same
// length (the MPI rule); the calls block until every rank has arrived. SyncBatchNorm
// (core/ops.h: sync_batch_norm) calls allreduce_sum in its forward and backward; the trainer
// calls it on the gradients and broadcast on the initial weights.
//
// Implementations: MpiCollective (train/mpi_collective.h, only in builds that found MPI) and,
// for tests, threads of one process (tests/thread_collective.h). No collective at all means
// one process, which is what every function taking a `Collective*` assumes for nullptr.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace bnlab {

class Collective {
public:
    virtual ~Collective() = default;

    virtual int rank() const = 0;  // this process's index in the group, 0..size()-1
    virtual int size() const = 0;  // the number of ranks

    // values[i] := the sum over ranks of values[i], on every rank.
    virtual void allreduce_sum(std::span<double> values) = 0;
    virtual void allreduce_sum(std::span<float> values) = 0;
    // values := root's values, on every rank.
    virtual void broadcast(std::span<float> values, int root = 0) = 0;
    virtual void broadcast(std::span<std::byte> bytes, int root = 0) = 0;
    // Every rank's `bytes` (any length, one message per rank), in rank order, on root; nothing on
    // the other ranks. (Results of work spread over the ranks, gathered for one report.)
    virtual std::vector<std::vector<std::byte>> gather(std::span<const std::byte> bytes, int root = 0) = 0;
    // Returns when every rank has called it.
    virtual void barrier() = 0;
};

// Every rank's `bytes`, in rank order, on every rank (gather on rank 0, then broadcast).
std::vector<std::vector<std::byte>> all_gather(Collective& group, std::span<const std::byte> bytes);

}  // namespace bnlab
