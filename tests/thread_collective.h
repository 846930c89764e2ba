// A Collective whose ranks are threads of this process, so that synchronized BatchNorm and
// the data-parallel helpers are tested in every build, with or without MPI (the MPI build
// tests them over real processes too: tests/mpi/).
//
//   run_ranks(2, [&](Collective& group) { ... group.rank() ... });  // two threads, joined
//
// Each collective call: every rank deposits its values in its slot; a barrier; every rank
// reads all slots in rank order (so sums are added in rank order on every rank, deterministic);
// a barrier before the slots are reused.
#pragma once

#include <algorithm>
#include <barrier>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core/collective.h"

namespace bnlab::testing {

class ThreadCollective : public Collective {
public:
    struct Shared {
        explicit Shared(int size) : sync(size), slots(static_cast<size_t>(size)) {}
        std::barrier<> sync;
        std::vector<std::vector<std::byte>> slots;
    };

    ThreadCollective(Shared& shared, int rank) : shared_(shared), rank_(rank) {}
    int rank() const override { return rank_; }
    int size() const override { return static_cast<int>(shared_.slots.size()); }

    void allreduce_sum(std::span<double> values) override { reduce(values); }
    void allreduce_sum(std::span<float> values) override { reduce(values); }
    void broadcast(std::span<float> values, int root) override { broadcast(std::as_writable_bytes(values), root); }
    void broadcast(std::span<std::byte> bytes, int root) override {
        exchange(bytes, [&] { std::copy_n(slot(root).begin(), bytes.size(), bytes.begin()); });
    }
    std::vector<std::vector<std::byte>> gather(std::span<const std::byte> bytes, int root) override {
        std::vector<std::vector<std::byte>> out;
        exchange(bytes, [&] {
            if (rank_ == root) out = shared_.slots;
        });
        return out;
    }
    void barrier() override { shared_.sync.arrive_and_wait(); }

private:
    std::vector<std::byte>& slot(int r) { return shared_.slots[static_cast<size_t>(r)]; }

    // Deposit `mine`, wait for every rank, read(), wait again.
    template <class Read>
    void exchange(std::span<const std::byte> mine, Read&& read) {
        slot(rank_).assign(mine.begin(), mine.end());
        shared_.sync.arrive_and_wait();
        read();
        shared_.sync.arrive_and_wait();
    }

    template <class T>
    void reduce(std::span<T> values) {
        exchange(std::as_bytes(values), [&] {
            std::fill(values.begin(), values.end(), T{0});
            for (int r = 0; r < size(); ++r) {
                const T* other = reinterpret_cast<const T*>(slot(r).data());
                for (size_t i = 0; i < values.size(); ++i) values[i] += other[i];
            }
        });
    }

    Shared& shared_;
    int rank_;
};

// Runs body(group) on `size` threads, one rank each; rethrows the first exception.
inline void run_ranks(int size, const std::function<void(Collective&)>& body) {
    ThreadCollective::Shared shared(size);
    std::vector<std::exception_ptr> errors(static_cast<size_t>(size));
    std::vector<std::thread> threads;
    for (int r = 0; r < size; ++r)
        threads.emplace_back([&, r] {
            ThreadCollective group(shared, r);
            try {
                body(group);
            } catch (...) {
                errors[static_cast<size_t>(r)] = std::current_exception();
                shared.sync.arrive_and_drop();  // do not leave the other ranks waiting forever
            }
        });
    for (auto& t : threads) t.join();
    for (auto& e : errors)
        if (e) std::rethrow_exception(e);
}

}  // namespace bnlab::testing
