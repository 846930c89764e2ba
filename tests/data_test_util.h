// Helpers for the data tests: writers of small gzip / IDX / CIFAR files, where the real data
// sets are (shared_data, have), and test_util.h.
#pragma once

#include <catch2/catch.hpp>
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "test_util.h"

namespace bnlab::test {

inline void write_gzip(const fs::path& path, const std::vector<uint8_t>& bytes) {
    fs::create_directories(path.parent_path());
    gzFile file = gzopen(path.c_str(), "wb");
    gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(file);
}

// An IDX file's bytes: magic 0x0000 08 D, D big-endian sizes, then `values`.
inline std::vector<uint8_t> idx_bytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& values) {
    std::vector<uint8_t> bytes = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
    for (uint32_t d : dims)
        for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<uint8_t>(d >> shift));
    bytes.insert(bytes.end(), values.begin(), values.end());
    return bytes;
}

// `count` 4x3 images whose pixel k of image i is (7*i + k) % 256, and labels i % classes.
struct TinyIdx {
    std::vector<uint8_t> images, labels;
};
inline TinyIdx tiny_idx(uint32_t count, uint32_t classes = 10) {
    std::vector<uint8_t> pixels, labels;
    for (uint32_t i = 0; i < count; ++i) {
        for (uint32_t k = 0; k < 12; ++k) pixels.push_back(static_cast<uint8_t>((7 * i + k) % 256));
        labels.push_back(static_cast<uint8_t>(i % classes));
    }
    return {idx_bytes({count, 4, 3}, pixels), idx_bytes({count}, labels)};
}

// A tiny MNIST in root/mnist: `train` training and `test` test images of 4x3 (tiny_idx),
// image i labelled i % 10.
inline void write_tiny_mnist(const fs::path& root, uint32_t train = 12, uint32_t test = 5) {
    for (const auto& [prefix, count] : {std::pair<std::string, uint32_t>{"train", train}, {"t10k", test}}) {
        const TinyIdx tiny = tiny_idx(count);
        write_gzip(root / "mnist" / (prefix + "-images-idx3-ubyte.gz"), tiny.images);
        write_gzip(root / "mnist" / (prefix + "-labels-idx1-ubyte.gz"), tiny.labels);
    }
}

// `count` CIFAR records: label bytes, then 3072 pixels with pixel k of record i = (i + k) % 256.
inline std::vector<uint8_t> cifar_records(const std::vector<std::vector<uint8_t>>& label_bytes) {
    std::vector<uint8_t> bytes;
    for (size_t i = 0; i < label_bytes.size(); ++i) {
        bytes.insert(bytes.end(), label_bytes[i].begin(), label_bytes[i].end());
        for (size_t k = 0; k < 3072; ++k) bytes.push_back(static_cast<uint8_t>((i + k) % 256));
    }
    return bytes;
}

// The project's shared real data: $BNLAB_SHARED_DATA, else ../shared/data beside the source tree.
inline fs::path shared_data() {
    if (const char* env = std::getenv("BNLAB_SHARED_DATA"); env != nullptr && *env != '\0') return env;
    return fs::path(BNLAB_SOURCE_DIR) / ".." / "shared" / "data";
}

inline bool under_ci() {
    const char* ci = std::getenv("CI");
    return ci != nullptr && std::string(ci) == "true";
}

// Whether real data `folder` exists; if not, fails under CI=true and warns (skips) elsewhere.
inline bool have(const fs::path& folder, const std::string& how_to_get) {
    if (fs::is_directory(folder)) return true;
    if (under_ci()) FAIL("real data missing under CI: " << folder.string() << " (" << how_to_get << ")");
    WARN("skipped: " << folder.string() << " not found (" << how_to_get << ")");
    return false;
}

}  // namespace bnlab::test
