// The real data sets: Fashion-MNIST (Debian's dataset-fashion-mnist), MNIST and CIFAR-10 from
// ../shared/data (or $BNLAB_SHARED_DATA). Counts, class histograms, first labels and md5s of
// the first image and of all pixels; the expected values were computed independently with numpy
// from the same files. Under CI=true a missing data set fails the test; elsewhere it is skipped
// with a warning.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>

#include "data/catalog.h"
#include "data/checksum.h"
#include "data/fetch.h"
#include "data_test_util.h"

using namespace bnlab;
using namespace bnlab::test;

namespace {

struct Expected {
    int64_t count;
    std::vector<int64_t> histogram;
    std::vector<int32_t> first_labels;
    std::string first_image_md5, all_pixels_md5;  // all_pixels_md5 "" to skip
};

void check_split(const Dataset& data, const Expected& expected) {
    INFO(data.name);
    CHECK(data.size() == expected.count);
    CHECK(class_histogram(data) == expected.histogram);
    const std::vector<int32_t> first(data.labels.begin(), data.labels.begin() + 10);
    CHECK(first == expected.first_labels);
    CHECK(digest_hex(DigestKind::md5, data.image(0)) == expected.first_image_md5);
    if (!expected.all_pixels_md5.empty()) CHECK(digest_hex(DigestKind::md5, data.pixels) == expected.all_pixels_md5);
}

// The standard mean/std (the catalog's) agree with the training pixels to `tolerance`.
void check_standard_stats(const Dataset& train, double tolerance) {
    const PixelStats stats = pixel_stats(train);
    for (size_t c = 0; c < stats.mean.size(); ++c) {
        CHECK(std::abs(stats.mean[c] - train.mean[c]) < tolerance);
        CHECK(std::abs(stats.std[c] - train.std[c]) < tolerance);
    }
}

bool all_ok(const std::vector<FileCheck>& checks, size_t expected_ok) {
    size_t ok = 0;
    for (const FileCheck& check : checks) ok += check.status == FileCheck::Status::ok || check.status == FileCheck::Status::ok_contents;
    return ok == expected_ok;
}

}  // namespace

TEST_CASE("real Fashion-MNIST: 60000/10000 images, 6000/1000 per class", "[data][real]") {
    const fs::path folder = "/usr/share/datasets/fashion-mnist";
    if (!have(folder, "apt install dataset-fashion-mnist")) return;
    const DatasetSpec& spec = *find_spec("fashion-mnist");
    const Dataset train = load_from_folder(spec, "train", folder);
    check_split(train, {60000, std::vector<int64_t>(10, 6000), {9, 0, 0, 3, 0, 2, 7, 2, 5, 5},
                        "4faf81e309af5194c477affdbefc6116", "f209073e486d5113ebe2cc431d4df862"});
    check_split(load_from_folder(spec, "test", folder),
                {10000, std::vector<int64_t>(10, 1000), {9, 2, 1, 1, 6, 1, 4, 6, 5, 7},
                 "a7ccdc296871349e7823556f7ce4b918", "b7656a891b218fc13e45205c48a92cae"});
    CHECK(train.class_names[9] == "Ankle boot");
    check_standard_stats(train, 5e-5);  // 0.2860 / 0.3530
    // Debian recompressed the .gz files: only their contents match the published ones.
    CHECK(all_ok(verify_folder(spec, folder), 4));
}

TEST_CASE("real MNIST: the test set and the training set", "[data][real]") {
    const fs::path folder = shared_data() / "mnist";
    if (!have(folder, "../shared/data/mnist, or set BNLAB_SHARED_DATA")) return;
    const DatasetSpec& spec = *find_spec("mnist");
    check_split(load_from_folder(spec, "test", folder),
                {10000, {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}, {7, 2, 1, 0, 4, 1, 4, 9, 5, 9},
                 "1081cd3611ed4bea23c5769d20d414e5", "240610fa99e73bfa49df8e7fc24d3206"});
    const Dataset train = load_from_folder(spec, "train", folder);
    check_split(train, {60000, {5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}, {5, 0, 4, 1, 9, 2, 1, 3, 1, 4},
                        "2ce86e4daeeff3a0cdebce6897c784ba", "6510e85a72c3e9475c492d559d3770d2"});
    check_standard_stats(train, 5e-5);  // 0.1307 / 0.3081
    // These are the official .gz files: their md5s are the published ones.
    for (const FileCheck& check : verify_folder(spec, folder)) CHECK(check.status == FileCheck::Status::ok);
}

TEST_CASE("real CIFAR-10: test_batch and all five training batches", "[data][real]") {
    const fs::path folder = shared_data() / "cifar10" / "cifar-10-batches-bin";
    if (!have(folder, "../shared/data/cifar10, or set BNLAB_SHARED_DATA")) return;
    const DatasetSpec& spec = *find_spec("cifar10");
    check_split(load_from_folder(spec, "test", folder),
                {10000, std::vector<int64_t>(10, 1000), {3, 8, 8, 0, 6, 6, 1, 6, 3, 1}, "7fa1480f5617b07b9a04920865c7d55f", ""});
    // The whole training split: batches 1-5 in order, 5000 images a class.
    const Dataset train = load_from_folder(spec, "train", folder);
    check_split(train, {50000, std::vector<int64_t>(10, 5000), {6, 9, 9, 4, 1, 1, 2, 7, 8, 3},
                        "564903faacb68848fabcb0f46460d2b5", "11af95666bd6fd7846144e768325bf13"});
    CHECK(digest_hex(DigestKind::md5, train.image(10000)) == "4fcd0da12e0ad12f35fccd88b123e299");  // data_batch_2's first
    CHECK(digest_hex(DigestKind::md5, train.image(20000)) == "117300269d674904a11f8aea697948c6");  // data_batch_3's first
    CHECK(digest_hex(DigestKind::md5, train.image(49999)) == "1d99508f8690b4cb22da5996be54fbd7");  // data_batch_5's last
    CHECK(train.class_names[3] == "cat");
    // The standard constants come from all 50000 training images.
    check_standard_stats(train, 5e-4);
    const std::vector<FileCheck> checks = verify_folder(spec, folder);  // SHA-1s as MXNet publishes them
    CHECK(all_ok(checks, 6));
}
