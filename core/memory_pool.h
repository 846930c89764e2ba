// MemoryPool: reuses tensor buffers so a training loop stops allocating after its first step.
//
// Every step of a training run allocates the same tensor sizes again (activations,
// gradients, im2col columns). Fresh large allocations come from the kernel as new pages,
// and touching them costs page faults, measured at ~20% of a mnist-cnn step on these
// machines. While a MemoryPool is active on a thread, buffers that tensors free go back
// to the pool, and later allocations of the same size take them from there.
//
//   MemoryPool pool;   // active on this thread until it goes out of scope (scopes nest, like Tape)
//   ... train ...      // after the first step: no new buffers (pool.stats().fresh stops growing)
//
// A buffer remembers its pool, so it can outlive the MemoryPool object; the pool's memory is
// released when the pool and every buffer from it are gone. Other threads can use the same
// pool (MemoryPool::Use), e.g. the data loader's prefetch thread; the pool is thread-safe.
// Without an active pool, buffers come from and return to the C allocator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace bnlab {

class MemoryPool {
public:
    struct Stats {
        int64_t fresh = 0;   // buffers obtained from the C allocator
        int64_t reused = 0;  // buffers handed out again from the pool
        int64_t cached_bytes = 0;
    };
    struct Impl;

    // Buffers beyond max_cached_bytes in the pool are returned to the C allocator.
    explicit MemoryPool(size_t max_cached_bytes = size_t{4} << 30);
    ~MemoryPool();
    MemoryPool(const MemoryPool&) = delete;
    MemoryPool& operator=(const MemoryPool&) = delete;

    Stats stats() const;
    // The stats of the pool active on this thread (all zero when none is).
    static Stats active_stats();

    // Makes a pool active on the current thread for a scope (e.g. a worker thread).
    class Use {
    public:
        explicit Use(std::shared_ptr<Impl> pool);
        ~Use();
        Use(const Use&) = delete;
        Use& operator=(const Use&) = delete;

    private:
        std::shared_ptr<Impl> saved_;
    };
    // The pool active on this thread (nullptr: none), to hand to another thread's Use.
    static std::shared_ptr<Impl> active();

    // For Storage: a 64-byte aligned buffer of `bytes` (a multiple of 64), and its return.
    static void* allocate(size_t bytes, std::shared_ptr<Impl>& owner);
    static void release(void* p, size_t bytes, const std::shared_ptr<Impl>& owner);

private:
    std::shared_ptr<Impl> impl_;
    std::shared_ptr<Impl> previous_;
};

}  // namespace bnlab
