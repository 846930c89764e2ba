// DataLoader: seeded permutations, batching, normalization, augmentation, and batches that are
// bit-identical with and without the prefetch thread.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <set>

#include "core/error.h"
#include "data/loader.h"

using namespace bnlab;

namespace {

// n images of (channels, 6, 5) whose pixel k of image i is (3*i + k) % 256, labels i % 10.
Dataset synthetic(int64_t n, int64_t channels = 1) {
    Dataset data;
    data.name = "synthetic";
    data.channels = channels;
    data.height = 6;
    data.width = 5;
    for (int64_t i = 0; i < n; ++i) {
        for (int64_t k = 0; k < data.image_size(); ++k) data.pixels.push_back(static_cast<uint8_t>((3 * i + k) % 256));
        data.labels.push_back(static_cast<int32_t>(i % 10));
    }
    data.class_names.assign(10, "c");
    data.mean.assign(static_cast<size_t>(channels), 0.25f);
    data.std.assign(static_cast<size_t>(channels), 0.5f);
    return data;
}

// Every batch of one epoch.
std::vector<Batch> epoch_batches(DataLoader& loader, int64_t epoch) {
    loader.start_epoch(epoch);
    std::vector<Batch> batches;
    Batch batch;
    while (loader.next(batch)) batches.push_back(batch);
    return batches;
}

bool same_bits(const std::vector<Batch>& a, const std::vector<Batch>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (a[i].labels != b[i].labels || a[i].indices != b[i].indices) return false;
        if (a[i].images.shape() != b[i].images.shape()) return false;
        if (std::memcmp(a[i].images.data(), b[i].images.data(), sizeof(float) * static_cast<size_t>(a[i].images.numel())))
            return false;
    }
    return true;
}

}  // namespace

TEST_CASE("the epoch permutation is seeded, covers every sample once, and changes every epoch", "[data][loader]") {
    const Dataset data = synthetic(1000);
    DataLoader loader(data, {.batch_size = 64, .seed = 7});
    DataLoader same_seed(data, {.batch_size = 64, .seed = 7});
    DataLoader other_seed(data, {.batch_size = 64, .seed = 8});
    std::set<std::vector<int64_t>> seen;
    for (int64_t epoch = 0; epoch < 5; ++epoch) {
        const std::vector<int64_t> order = loader.epoch_order(epoch);
        CHECK(order == same_seed.epoch_order(epoch));
        CHECK(order != other_seed.epoch_order(epoch));
        std::vector<int64_t> sorted = order;
        std::sort(sorted.begin(), sorted.end());
        for (int64_t i = 0; i < 1000; ++i) REQUIRE(sorted[static_cast<size_t>(i)] == i);
        seen.insert(order);
    }
    CHECK(seen.size() == 5);  // a different order each epoch
    // Not the identity, and each sample lands on every position with roughly equal chance:
    // over 200 epochs, sample 0 appears in the first half about half the time.
    CHECK(loader.epoch_order(0) != DataLoader(data, {.shuffle = false}).epoch_order(0));
    int first_half = 0;
    for (int64_t epoch = 0; epoch < 200; ++epoch) {
        const std::vector<int64_t> order = loader.epoch_order(epoch);
        first_half += std::find(order.begin(), order.end(), 0) - order.begin() < 500;
    }
    CHECK(first_half > 70);
    CHECK(first_half < 130);
}

TEST_CASE("batches follow the epoch order, with drop_last and limit", "[data][loader]") {
    const Dataset data = synthetic(10);
    SECTION("all samples, a short last batch") {
        DataLoader loader(data, {.batch_size = 4, .seed = 1});
        CHECK(loader.batches_per_epoch() == 3);
        const std::vector<Batch> batches = epoch_batches(loader, 2);
        REQUIRE(batches.size() == 3);
        CHECK(batches[2].images.shape() == Shape{2, 1, 6, 5});
        std::vector<int64_t> visited;
        for (const Batch& b : batches) {
            visited.insert(visited.end(), b.indices.begin(), b.indices.end());
            for (size_t k = 0; k < b.labels.size(); ++k) CHECK(b.labels[k] == b.indices[k] % 10);
        }
        CHECK(visited == loader.epoch_order(2));
    }
    SECTION("drop_last") {
        DataLoader loader(data, {.batch_size = 4, .drop_last = true});
        CHECK(loader.batches_per_epoch() == 2);
        CHECK(epoch_batches(loader, 0).size() == 2);
        DataLoader too_big(data, {.batch_size = 11, .drop_last = true});
        CHECK(epoch_batches(too_big, 0).empty());
    }
    SECTION("limit takes the first N samples") {
        DataLoader loader(data, {.batch_size = 4, .limit = 6, .seed = 3});
        CHECK(loader.size() == 6);
        std::set<int64_t> visited;
        for (const Batch& b : epoch_batches(loader, 0)) visited.insert(b.indices.begin(), b.indices.end());
        CHECK(visited == std::set<int64_t>{0, 1, 2, 3, 4, 5});
        CHECK(DataLoader(data, {.limit = 50}).size() == 10);
    }
    SECTION("no shuffle: dataset order") {
        DataLoader loader(data, {.batch_size = 3, .shuffle = false});
        CHECK(epoch_batches(loader, 0)[1].indices == std::vector<int64_t>{3, 4, 5});
    }
}

TEST_CASE("images are normalized per channel with the data set's mean and std", "[data][loader]") {
    Dataset data = synthetic(3, 3);
    data.mean = {0.1f, 0.5f, 0.9f};
    data.std = {0.2f, 0.25f, 0.5f};
    DataLoader loader(data, {.batch_size = 3, .shuffle = false, .prefetch = false});
    const Batch batch = epoch_batches(loader, 0).at(0);
    const int64_t plane = 30;
    for (int64_t i = 0; i < 3; ++i)
        for (int64_t c = 0; c < 3; ++c)
            for (int64_t k = 0; k < plane; ++k) {
                const double pixel = data.image(i)[static_cast<size_t>(c * plane + k)];
                const double expected = (pixel / 255.0 - data.mean[static_cast<size_t>(c)]) / data.std[static_cast<size_t>(c)];
                REQUIRE(std::abs(batch.images.at({i, c, k / 5, k % 5}) - expected) < 1e-5);
            }
}

TEST_CASE("augmentation is a crop of the zero-padded image, maybe mirrored", "[data][loader]") {
    const Dataset data = synthetic(64, 3);
    DataLoader loader(data, {.batch_size = 16, .augment = true, .seed = 11});
    DataLoader plain(data, {.batch_size = 64, .shuffle = false, .prefetch = false});
    const Batch reference = epoch_batches(plain, 0).at(0);  // un-augmented, normalized
    const float pad = -0.25f / 0.5f;                         // pixel value 0 normalized
    std::set<std::tuple<int, int, bool>> used;
    for (const Batch& batch : epoch_batches(loader, 0))
        for (int64_t k = 0; k < batch.images.dim(0); ++k) {
            const int64_t sample = batch.indices[static_cast<size_t>(k)];
            // Find the (dy, dx, flip) that reproduces this output exactly; there must be one.
            bool found = false;
            for (int dy = 0; dy <= 8 && !found; ++dy)
                for (int dx = 0; dx <= 8 && !found; ++dx)
                    for (bool flip : {false, true}) {
                        bool match = true;
                        for (int64_t c = 0; c < 3 && match; ++c)
                            for (int64_t y = 0; y < 6 && match; ++y)
                                for (int64_t x = 0; x < 5 && match; ++x) {
                                    const int64_t sy = y + dy - 4, sx = (flip ? 4 - x : x) + dx - 4;
                                    const bool inside = sy >= 0 && sy < 6 && sx >= 0 && sx < 5;
                                    const float expected = inside ? reference.images.at({sample, c, sy, sx}) : pad;
                                    match = batch.images.at({k, c, y, x}) == expected;
                                }
                        if (match) {
                            found = true;
                            used.insert({dy, dx, flip});
                            break;
                        }
                    }
            CHECK(found);
        }
    CHECK(used.size() > 20);  // many different crops and both flips were drawn
    std::set<bool> flips;
    for (const auto& [dy, dx, flip] : used) flips.insert(flip);
    CHECK(flips.size() == 2);
}

TEST_CASE("batches are bit-identical with and without prefetching, in any epoch order", "[data][loader]") {
    const Dataset data = synthetic(300, 3);
    for (bool augment : {false, true}) {
        DataLoader prefetching(data, {.batch_size = 32, .augment = augment, .prefetch = true, .seed = 5});
        DataLoader direct(data, {.batch_size = 32, .augment = augment, .prefetch = false, .seed = 5});
        const std::vector<Batch> epoch1 = epoch_batches(prefetching, 1);
        CHECK(same_bits(epoch1, epoch_batches(direct, 1)));
        CHECK(same_bits(epoch_batches(prefetching, 0), epoch_batches(direct, 0)));
        // Replaying epoch 1 after epoch 0 gives epoch 1 again; epochs 0 and 1 differ.
        CHECK(same_bits(epoch_batches(direct, 1), epoch1));
        CHECK_FALSE(same_bits(epoch_batches(direct, 0), epoch1));
    }
}

TEST_CASE("an epoch restarted midway and a loader destroyed with a batch in flight", "[data][loader]") {
    const Dataset data = synthetic(200);
    DataLoader loader(data, {.batch_size = 8, .seed = 2});
    loader.start_epoch(0);
    Batch batch;
    REQUIRE(loader.next(batch));
    REQUIRE(loader.next(batch));
    // Restart while the worker may be building batch 2: the new epoch starts from its batch 0.
    const std::vector<Batch> fresh = epoch_batches(loader, 0);
    DataLoader direct(data, {.batch_size = 8, .prefetch = false, .seed = 2});
    CHECK(same_bits(fresh, epoch_batches(direct, 0)));
    {
        DataLoader short_lived(data, {.batch_size = 8});
        short_lived.start_epoch(3);  // the worker starts batch 0; the destructor must join cleanly
    }
    CHECK_FALSE(loader.next(batch));  // the epoch is over until the next start_epoch
}

TEST_CASE("bad loader options and misuse are errors", "[data][loader]") {
    const Dataset data = synthetic(10);
    CHECK_THROWS_WITH(DataLoader(data, {.batch_size = 0}), Catch::Contains("batch_size must be positive, got 0"));
    CHECK_THROWS_WITH(DataLoader(data, {.limit = -1}), Catch::Contains("limit must be >= 0"));
    DataLoader loader(data, {});
    Batch batch;
    CHECK_THROWS_WITH(loader.next(batch), Catch::Contains("call start_epoch(epoch) first"));
    CHECK_THROWS_WITH(loader.start_epoch(-1), Catch::Contains("epoch must be >= 0"));
    Dataset broken = data;
    broken.labels[3] = 12;
    CHECK_THROWS_WITH(DataLoader(broken, {}), Catch::Contains("label 12 of sample 3 is out of range [0, 10)"));
    Dataset empty = synthetic(0);
    CHECK_THROWS_WITH(DataLoader(empty, {}), Catch::Contains("the data set is empty"));
}
