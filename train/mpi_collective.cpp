#include "train/mpi_collective.h"

#include <fmt/format.h>

#include <climits>
#include <cstdlib>

#include "core/error.h"

#ifdef BNLAB_HAVE_MPI
#include <mpi.h>
#endif

namespace bnlab {

namespace {

int env_int(const char* name) {
    const char* v = std::getenv(name);
    return v ? std::atoi(v) : 0;
}

}  // namespace

int launcher_world_size() {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"})
        if (env_int(name) > 0) return env_int(name);
    if (std::getenv("SLURM_PROCID") && env_int("SLURM_NTASKS") > 0) return env_int("SLURM_NTASKS");
    return 1;
}

std::string mpi_missing_message() {
    return "this bnlab was built without MPI, so it cannot train over several processes. Install Open MPI "
           "(Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev) and rebuild (cmake -S . -B build; "
           "CMake finds it), then launch with mpirun -np N bnlab train ...";
}

#ifdef BNLAB_HAVE_MPI

namespace {

// MPI takes int counts: larger spans go in pieces.
template <class T, class F>
void in_pieces(std::span<T> values, F&& f) {
    constexpr size_t kMax = INT_MAX / 2;
    for (size_t first = 0; first < values.size(); first += kMax) {
        const size_t n = std::min(kMax, values.size() - first);
        f(values.data() + first, static_cast<int>(n));
    }
}

void check(int rc, const char* what) {
    if (rc != MPI_SUCCESS) throw Error(fmt::format("MPI: {} failed (error {})", what, rc));
}

}  // namespace

bool mpi_available() { return true; }

MpiCollective::MpiCollective() {
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

MpiCollective::~MpiCollective() { MPI_Finalize(); }

void MpiCollective::allreduce_sum(std::span<double> values) {
    in_pieces(values, [](double* p, int n) {
        check(MPI_Allreduce(MPI_IN_PLACE, p, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
    });
}

void MpiCollective::allreduce_sum(std::span<float> values) {
    in_pieces(values, [](float* p, int n) {
        check(MPI_Allreduce(MPI_IN_PLACE, p, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
    });
}

void MpiCollective::broadcast(std::span<float> values, int root) {
    in_pieces(values, [root](float* p, int n) { check(MPI_Bcast(p, n, MPI_FLOAT, root, MPI_COMM_WORLD), "MPI_Bcast"); });
}

void MpiCollective::broadcast(std::span<std::byte> bytes, int root) {
    in_pieces(bytes, [root](std::byte* p, int n) { check(MPI_Bcast(p, n, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast"); });
}

std::vector<std::vector<std::byte>> MpiCollective::gather(std::span<const std::byte> bytes, int root) {
    if (bytes.size() > static_cast<size_t>(INT_MAX)) throw Error("MPI gather: a message over 2 GiB");
    const int length = static_cast<int>(bytes.size());
    std::vector<int> lengths(static_cast<size_t>(size_)), offsets(static_cast<size_t>(size_));
    check(MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, root, MPI_COMM_WORLD), "MPI_Gather");
    std::vector<std::byte> all;
    if (rank_ == root) {
        long total = 0;
        for (size_t r = 0; r < lengths.size(); ++r) {
            offsets[r] = static_cast<int>(total);
            total += lengths[r];
        }
        if (total > INT_MAX) throw Error("MPI gather: the gathered messages exceed 2 GiB");
        all.resize(static_cast<size_t>(total));
    }
    check(MPI_Gatherv(bytes.data(), length, MPI_BYTE, all.data(), lengths.data(), offsets.data(), MPI_BYTE, root,
                      MPI_COMM_WORLD),
          "MPI_Gatherv");
    std::vector<std::vector<std::byte>> out;
    if (rank_ == root)
        for (size_t r = 0; r < lengths.size(); ++r)
            out.emplace_back(all.begin() + offsets[r], all.begin() + offsets[r] + lengths[r]);
    return out;
}

void MpiCollective::barrier() { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }

void MpiCollective::abort(int code) {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::abort();  // MPI_Abort does not return; this says so to the compiler
}

std::unique_ptr<MpiCollective> start_mpi() { return std::unique_ptr<MpiCollective>(new MpiCollective()); }

#else  // built without MPI

bool mpi_available() { return false; }
MpiCollective::MpiCollective() = default;
MpiCollective::~MpiCollective() = default;
void MpiCollective::allreduce_sum(std::span<double>) {}
void MpiCollective::allreduce_sum(std::span<float>) {}
void MpiCollective::broadcast(std::span<float>, int) {}
void MpiCollective::broadcast(std::span<std::byte>, int) {}
std::vector<std::vector<std::byte>> MpiCollective::gather(std::span<const std::byte>, int) { return {}; }
void MpiCollective::barrier() {}
void MpiCollective::abort(int) { std::abort(); }
std::unique_ptr<MpiCollective> start_mpi() { throw Error(mpi_missing_message()); }

#endif

}  // namespace bnlab
