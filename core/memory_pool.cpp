#include "core/memory_pool.h"

#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace bnlab {

namespace {
constexpr size_t kAlignment = 64;
// Which pool this thread's tensors allocate from (like the active tape, one pointer per thread).
thread_local std::shared_ptr<MemoryPool::Impl> active_pool;

void* aligned(size_t bytes) {
    void* p = std::aligned_alloc(kAlignment, bytes);
    if (!p) throw std::bad_alloc();
    return p;
}
}  // namespace

struct MemoryPool::Impl {
    explicit Impl(size_t max_bytes) : max_cached_bytes(max_bytes) {}
    ~Impl() {
        for (auto& [bytes, buffers] : free_buffers)
            for (void* p : buffers) std::free(p);
    }
    std::mutex mutex;
    std::unordered_map<size_t, std::vector<void*>> free_buffers;  // by exact size
    size_t max_cached_bytes;
    Stats stats;
};

MemoryPool::MemoryPool(size_t max_cached_bytes)
    : impl_(std::make_shared<Impl>(max_cached_bytes)), previous_(active_pool) {
    active_pool = impl_;
}

MemoryPool::~MemoryPool() {
    if (active_pool == impl_) active_pool = previous_;
}

MemoryPool::Stats MemoryPool::stats() const {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    return impl_->stats;
}

MemoryPool::Stats MemoryPool::active_stats() {
    if (!active_pool) return {};
    std::lock_guard<std::mutex> lock(active_pool->mutex);
    return active_pool->stats;
}

MemoryPool::Use::Use(std::shared_ptr<Impl> pool) : saved_(active_pool) { active_pool = std::move(pool); }
MemoryPool::Use::~Use() { active_pool = saved_; }

std::shared_ptr<MemoryPool::Impl> MemoryPool::active() { return active_pool; }

void* MemoryPool::allocate(size_t bytes, std::shared_ptr<Impl>& owner) {
    owner = active_pool;
    if (!owner) return aligned(bytes);
    {
        std::lock_guard<std::mutex> lock(owner->mutex);
        auto it = owner->free_buffers.find(bytes);
        if (it != owner->free_buffers.end() && !it->second.empty()) {
            void* p = it->second.back();
            it->second.pop_back();
            owner->stats.cached_bytes -= static_cast<int64_t>(bytes);
            ++owner->stats.reused;
            return p;
        }
        ++owner->stats.fresh;
    }
    return aligned(bytes);
}

void MemoryPool::release(void* p, size_t bytes, const std::shared_ptr<Impl>& owner) {
    if (owner) {
        std::lock_guard<std::mutex> lock(owner->mutex);
        if (static_cast<size_t>(owner->stats.cached_bytes) + bytes <= owner->max_cached_bytes) {
            owner->free_buffers[bytes].push_back(p);
            owner->stats.cached_bytes += static_cast<int64_t>(bytes);
            return;
        }
    }
    std::free(p);
}

}  // namespace bnlab
