// DataLoader: turns a Dataset into shuffled, normalized, optionally augmented float batches.
//
//   batch.images: (B, C, H, W) float32, x = (pixel/255 - mean[c]) / std[c], computed as
//                 pixel * scale[c] + offset[c] with scale = 1/(255 std), offset = -mean/std
//   batch.labels: B class indices;  batch.indices: the B dataset positions they came from
//
// Determinism: everything random is drawn from Generator(seed).fork(epoch): the epoch's
// permutation from .fork(0), the augmentation of batch b from .fork(1 + b). A batch is
// therefore a pure function of (seed, epoch, batch index), whatever thread builds it and
// whenever: batches are bit-identical with and without prefetching, and epochs can be
// replayed in any order (e.g. after resuming from a checkpoint).
//
// Prefetching: while the caller trains on batch b, a background thread builds batch b+1.
// The thread lives as long as the loader and is joined by its destructor.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "core/memory_pool.h"
#include "core/random.h"
#include "core/tensor.h"
#include "data/dataset.h"

namespace bnlab {

struct Batch {
    Tensor images;                 // (B, C, H, W) float32, normalized
    std::vector<int32_t> labels;   // B
    std::vector<int64_t> indices;  // B positions in the dataset
};

struct LoaderOptions {
    int64_t batch_size = 128;
    bool shuffle = true;     // a new seeded permutation every epoch; false: dataset order
    bool drop_last = false;  // drop the last batch when it would be smaller than batch_size
    int64_t limit = 0;       // use only the first `limit` samples (0: all; more than the set: all)
    bool augment = false;    // CIFAR-style: random crop with zero padding 4, then random horizontal flip
    bool prefetch = true;    // build the next batch on a background thread
    uint64_t seed = 0;
    // Data parallelism: this loader yields only shard `shard` of `shards` of every batch, the
    // samples [B*shard/shards, B*(shard+1)/shards) of the batch the unsharded loader would
    // build (B = that batch's size), with the same augmentation. Rank r of R uses shard r.
    int shard = 0, shards = 1;
    // Normalize with these per-channel constants instead of the data set's own, e.g. a test
    // split normalized as the training split was (empty: the data set's mean/std).
    std::vector<float> mean = {}, std = {};
};

// The loader's normalization (no augmentation) for images outside a Dataset, e.g. the files
// `bnlab predict` reads: (N, C, H, W) bytes -> (N, C, H, W) float32 tensor, bit-identical to
// the batch a DataLoader builds from the same pixels with the same mean/std.
// N = pixels.size() / (C*H*W); Error when that does not divide or mean/std lack a value per channel.
Tensor normalize_images(std::span<const uint8_t> pixels, int64_t channels, int64_t height, int64_t width,
                        std::span<const float> mean, std::span<const float> std);

class DataLoader {
public:
    // `data` is read, not copied: it must outlive the loader. Throws Error for bad options.
    DataLoader(const Dataset& data, LoaderOptions options);
    ~DataLoader();
    DataLoader(const DataLoader&) = delete;
    DataLoader& operator=(const DataLoader&) = delete;

    int64_t size() const { return size_; }  // samples per epoch (after limit)
    int64_t batches_per_epoch() const;
    const LoaderOptions& options() const { return options_; }

    // Starts (or restarts) epoch `epoch` >= 0; any batch of the previous epoch not yet taken is dropped.
    void start_epoch(int64_t epoch);
    // The next batch of the current epoch; false when the epoch has no more batches.
    bool next(Batch& batch);

    // The order in which epoch `epoch` visits the samples (0..size-1 when not shuffling).
    std::vector<int64_t> epoch_order(int64_t epoch) const;

private:
    Batch make_batch(int64_t batch_index) const;
    void worker_loop();

    const Dataset& data_;
    LoaderOptions options_;
    int64_t size_ = 0;
    std::vector<float> scale_, offset_;  // per channel

    // The current epoch, written by start_epoch only while the worker is idle.
    int64_t epoch_ = -1;
    std::vector<int64_t> order_;
    Generator epoch_generator_;
    int64_t next_batch_ = 0;

    // Hand-over between the caller and the prefetch thread, guarded by mutex_.
    std::mutex mutex_;
    std::condition_variable changed_;
    int64_t requested_ = -1;  // batch the worker should build next (-1: none)
    std::shared_ptr<MemoryPool::Impl> request_pool_;  // the requesting thread's memory pool
    bool working_ = false;
    std::optional<Batch> ready_;
    int64_t ready_index_ = -1;
    std::exception_ptr ready_error_;
    bool stopping_ = false;
    std::thread worker_;  // last member: started after everything it reads is initialized
};

}  // namespace bnlab
