#include "data/loader.h"

#include <algorithm>
#include <numeric>
#include <string>
#include <utility>

#include "core/error.h"

namespace bnlab {

namespace {

constexpr int64_t kPad = 4;  // augmentation: crop offsets are drawn in [0, 2 * kPad]

// The normalization as an affine map per channel: (pixel/255 - mean) / std = pixel * scale + offset.
void channel_affine(std::span<const float> mean, std::span<const float> std, std::vector<float>& scale,
                    std::vector<float>& offset) {
    for (size_t c = 0; c < mean.size(); ++c) {
        const double m = mean[c], s = std[c];
        scale.push_back(static_cast<float>(1.0 / (255.0 * s)));
        offset.push_back(static_cast<float>(-m / s));
    }
}

// One image, (C, H, W) bytes -> (C, H, W) normalized floats.
void normalize_image(const uint8_t* src, float* dst, int64_t channels, int64_t plane, const float* scale,
                     const float* offset) {
    for (int64_t c = 0; c < channels; ++c) {
        const float s = scale[c], o = offset[c];
        const uint8_t* in = src + c * plane;
        float* out = dst + c * plane;
        for (int64_t k = 0; k < plane; ++k) out[k] = static_cast<float>(in[k]) * s + o;
    }
}

// One image with a random crop of the zero-padded image and an optional horizontal flip:
// out(c, y, x) = in(c, y + dy - 4, x' + dx - 4), x' = flip ? W-1-x : x, and outside the image
// the padding's pixel value 0 (normalized: offset[c]).
void normalize_image_augmented(const uint8_t* src, float* dst, int64_t channels, int64_t height, int64_t width,
                               const float* scale, const float* offset, int64_t dy, int64_t dx, bool flip) {
    for (int64_t c = 0; c < channels; ++c) {
        const float s = scale[c], o = offset[c];
        const uint8_t* in = src + c * height * width;
        float* out = dst + c * height * width;
        for (int64_t y = 0; y < height; ++y) {
            const int64_t sy = y + dy - kPad;
            float* out_row = out + y * width;
            if (sy < 0 || sy >= height) {
                std::fill(out_row, out_row + width, o);
                continue;
            }
            // Output columns [x_begin, x_end) read source column x + shift (flipped: W-1-x + shift);
            // the others fall on the padding.
            const uint8_t* in_row = in + sy * width;
            const int64_t shift = dx - kPad;
            const int64_t x_begin = std::max<int64_t>(0, flip ? shift : -shift);
            const int64_t x_end = std::min(width, flip ? width + shift : width - shift);
            std::fill(out_row, out_row + x_begin, o);
            std::fill(out_row + x_end, out_row + width, o);
            if (flip)
                for (int64_t x = x_begin; x < x_end; ++x) out_row[x] = static_cast<float>(in_row[width - 1 - x + shift]) * s + o;
            else
                for (int64_t x = x_begin; x < x_end; ++x) out_row[x] = static_cast<float>(in_row[x + shift]) * s + o;
        }
    }
}

}  // namespace

Tensor normalize_images(std::span<const uint8_t> pixels, int64_t channels, int64_t height, int64_t width,
                        std::span<const float> mean, std::span<const float> std) {
    const int64_t image_size = channels * height * width;
    if (image_size <= 0 || static_cast<int64_t>(pixels.size()) % image_size != 0)
        throw Error("normalize_images: " + std::to_string(pixels.size()) + " bytes are not whole images of " +
                    std::to_string(channels) + "x" + std::to_string(height) + "x" + std::to_string(width));
    if (static_cast<int64_t>(mean.size()) != channels || std.size() != mean.size())
        throw Error("normalize_images: mean/std need one value per channel (" + std::to_string(channels) + ")");
    std::vector<float> scale, offset;
    channel_affine(mean, std, scale, offset);
    const int64_t count = static_cast<int64_t>(pixels.size()) / image_size;
    // (N, C, H, W) bytes -> (N, C, H, W) floats, one image at a time.
    Tensor images = Tensor::empty({count, channels, height, width});
    for (int64_t n = 0; n < count; ++n)
        normalize_image(pixels.data() + n * image_size, images.data() + n * image_size, channels, height * width,
                        scale.data(), offset.data());
    return images;
}

DataLoader::DataLoader(const Dataset& data, LoaderOptions options) : data_(data), options_(options) {
    const std::string where = "DataLoader(" + data.name + ")";
    if (options_.batch_size <= 0)
        throw Error(where + ": batch_size must be positive, got " + std::to_string(options_.batch_size));
    if (options_.limit < 0) throw Error(where + ": limit must be >= 0, got " + std::to_string(options_.limit));
    check_consistent(data, where);
    if (data.size() == 0) throw Error(where + ": the data set is empty");
    if (options_.shards < 1 || options_.shard < 0 || options_.shard >= options_.shards)
        throw Error("DataLoader: shard " + std::to_string(options_.shard) + " of " + std::to_string(options_.shards) +
                    " does not exist");
    size_ = options_.limit > 0 ? std::min(options_.limit, data.size()) : data.size();
    if (options_.mean.empty() != options_.std.empty() ||
        (!options_.mean.empty() && static_cast<int64_t>(options_.mean.size()) != data.channels))
        throw Error("DataLoader: mean/std override needs one value per channel (" + std::to_string(data.channels) + ")");
    if (options_.mean.empty()) channel_affine(data.mean, data.std, scale_, offset_);
    else channel_affine(options_.mean, options_.std, scale_, offset_);
    if (options_.prefetch) worker_ = std::thread([this] { worker_loop(); });
}

DataLoader::~DataLoader() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    changed_.notify_all();
    if (worker_.joinable()) worker_.join();
}

int64_t DataLoader::batches_per_epoch() const {
    const int64_t b = options_.batch_size;
    return size_ / b + (!options_.drop_last && size_ % b != 0);  // ceil without size_ + b - 1 overflowing
}

std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const {
    std::vector<int64_t> order(static_cast<size_t>(size_));
    std::iota(order.begin(), order.end(), int64_t{0});
    if (!options_.shuffle) return order;
    // Fisher-Yates: position i takes a uniformly chosen one of the i+1 samples not yet placed.
    Generator generator = Generator(options_.seed).fork(static_cast<uint64_t>(epoch)).fork(0);
    for (int64_t i = size_ - 1; i > 0; --i) {
        const auto j = static_cast<int64_t>(generator.below(static_cast<uint64_t>(i + 1)));
        std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
    }
    return order;
}

void DataLoader::start_epoch(int64_t epoch) {
    if (epoch < 0) throw Error("DataLoader::start_epoch: epoch must be >= 0, got " + std::to_string(epoch));
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !working_; });  // the worker reads order_: let it finish
    requested_ = -1;
    ready_.reset();
    ready_index_ = -1;
    ready_error_ = nullptr;
    epoch_ = epoch;
    order_ = epoch_order(epoch);
    epoch_generator_ = Generator(options_.seed).fork(static_cast<uint64_t>(epoch));
    next_batch_ = 0;
    if (options_.prefetch && batches_per_epoch() > 0) {
        requested_ = 0;
        request_pool_ = MemoryPool::active();
        changed_.notify_all();
    }
}

bool DataLoader::next(Batch& batch) {
    if (epoch_ < 0) throw Error("DataLoader::next: call start_epoch(epoch) first");
    if (next_batch_ >= batches_per_epoch()) return false;
    if (!options_.prefetch) {
        batch = make_batch(next_batch_++);
        return true;
    }
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return ready_index_ == next_batch_; });
    ready_index_ = -1;
    if (ready_error_) std::rethrow_exception(std::exchange(ready_error_, nullptr));
    batch = std::move(*ready_);
    ready_.reset();
    if (++next_batch_ < batches_per_epoch()) {
        requested_ = next_batch_;
        request_pool_ = MemoryPool::active();
        changed_.notify_all();
    }
    return true;
}

void DataLoader::worker_loop() {
    std::unique_lock lock(mutex_);
    for (;;) {
        changed_.wait(lock, [&] { return stopping_ || requested_ >= 0; });
        if (stopping_) return;
        const int64_t index = std::exchange(requested_, -1);
        // Build the batch in the memory pool of the thread that asked for it, so its buffers
        // are reused once that thread is done with them.
        MemoryPool::Use pool(std::exchange(request_pool_, nullptr));
        working_ = true;
        lock.unlock();
        std::optional<Batch> batch;
        std::exception_ptr error;
        try {
            batch = make_batch(index);
        } catch (...) {
            error = std::current_exception();
        }
        lock.lock();
        working_ = false;
        ready_ = std::move(batch);
        ready_error_ = error;
        ready_index_ = index;
        changed_.notify_all();
    }
}

Batch DataLoader::make_batch(int64_t batch_index) const {
    const int64_t first = batch_index * options_.batch_size;
    const int64_t full = std::min(options_.batch_size, size_ - first);  // the whole (unsharded) batch
    // This shard's samples [lo, lo + count) of the batch. The augmentation draws of the samples
    // before lo are made and discarded, so each sample is augmented as without sharding.
    const int64_t lo = full * options_.shard / options_.shards;
    const int64_t count = full * (options_.shard + 1) / options_.shards - lo;
    const int64_t channels = data_.channels, height = data_.height, width = data_.width;
    const int64_t image_floats = channels * height * width;
    Batch batch;
    batch.images = Tensor::empty({count, channels, height, width});
    batch.labels.resize(static_cast<size_t>(count));
    batch.indices.resize(static_cast<size_t>(count));
    Generator augment_generator = epoch_generator_.fork(static_cast<uint64_t>(1 + batch_index));
    float* out = batch.images.data();
    if (options_.augment)
        for (int64_t k = 0; k < lo; ++k)
            for (const auto bound : {2 * kPad + 1, 2 * kPad + 1, int64_t{2}})  // dy, dx, flip
                augment_generator.below(static_cast<uint64_t>(bound));
    for (int64_t k = 0; k < count; ++k) {
        const int64_t sample = order_[static_cast<size_t>(first + lo + k)];
        batch.indices[static_cast<size_t>(k)] = sample;
        batch.labels[static_cast<size_t>(k)] = data_.labels[static_cast<size_t>(sample)];
        const uint8_t* pixels = data_.image(sample).data();
        float* dst = out + k * image_floats;
        if (options_.augment) {
            const auto dy = static_cast<int64_t>(augment_generator.below(2 * kPad + 1));
            const auto dx = static_cast<int64_t>(augment_generator.below(2 * kPad + 1));
            const bool flip = augment_generator.below(2) == 1;
            normalize_image_augmented(pixels, dst, channels, height, width, scale_.data(), offset_.data(), dy, dx,
                                      flip);
        } else {
            normalize_image(pixels, dst, channels, height * width, scale_.data(), offset_.data());
        }
    }
    return batch;
}

}  // namespace bnlab
