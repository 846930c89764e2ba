// MpiCollective: the Collective (core/collective.h) of the processes `mpirun` or Slurm's
// `srun` started, over MPI_COMM_WORLD. Built only where CMake found an MPI (Debian:
// openmpi-bin libopenmpi-dev); elsewhere mpi_available() is false and start_mpi() throws an
// Error that says how to get one.
//
//   int main(int argc, char** argv) {
//       std::unique_ptr<MpiCollective> world = start_mpi();  // MPI_Init ... MPI_Finalize at scope end
//       Trainer trainer(config, train, test, world.get());
//
// One MpiCollective per process, made on the main thread; its calls must come from that
// thread (MPI_THREAD_FUNNELED: bnlab's OpenMP threads never call MPI).
#pragma once

#include <memory>
#include <string>

#include "core/collective.h"

namespace bnlab {

// Whether this bnlab was built with MPI.
bool mpi_available();

// The world size a launcher (mpirun, srun) announced in the environment, without starting MPI
// (Open MPI's OMPI_COMM_WORLD_SIZE, PMI_SIZE, Slurm's SLURM_NTASKS with SLURM_PROCID); 1 when
// none did. Lets a build without MPI refuse a distributed launch instead of training N
// copies of the same run.
int launcher_world_size();

// The message for a distributed run asked of a build without MPI.
std::string mpi_missing_message();

class MpiCollective : public Collective {
public:
    ~MpiCollective() override;  // MPI_Finalize
    MpiCollective(const MpiCollective&) = delete;
    MpiCollective& operator=(const MpiCollective&) = delete;

    int rank() const override { return rank_; }
    int size() const override { return size_; }
    void allreduce_sum(std::span<double> values) override;
    void allreduce_sum(std::span<float> values) override;
    void broadcast(std::span<float> values, int root = 0) override;
    void broadcast(std::span<std::byte> bytes, int root = 0) override;
    std::vector<std::vector<std::byte>> gather(std::span<const std::byte> bytes, int root = 0) override;
    void barrier() override;
    // Ends every rank's process with `code` (MPI_Abort): what a rank that failed alone must do,
    // or the others would wait in their next collective forever.
    [[noreturn]] void abort(int code);

private:
    friend std::unique_ptr<MpiCollective> start_mpi();
    MpiCollective();
    int rank_ = 0, size_ = 1;
};

// MPI_Init_thread(FUNNELED) and MPI_COMM_WORLD; Error without MPI (mpi_missing_message()).
std::unique_ptr<MpiCollective> start_mpi();

}  // namespace bnlab
