// The IDX format of MNIST, Fashion-MNIST and KMNIST (yann.lecun.com/exdb/mnist):
//   bytes 0-3   magic: 0x00 0x00, type 0x08 (unsigned byte), number of dimensions D
//   bytes 4..   D sizes, each a big-endian uint32
//   then        the values, prod(sizes) bytes, row-major (last dimension fastest)
// Images are D=3: (N, 28, 28), magic 0x00000803; labels are D=1: (N), magic 0x00000801.
// Files are read gzipped (.gz) or raw, under either spelling seen on disk:
// "train-images-idx3-ubyte" and "train-images.idx3-ubyte".
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace bnlab {

struct IdxArray {
    std::vector<int64_t> dims;
    std::vector<uint8_t> values;  // prod(dims), row-major
};

// Reads and validates one IDX file of unsigned bytes with `ndim` dimensions: the magic
// number, the sizes, and a length of exactly header + prod(sizes). Errors name the path;
// for a bad magic number also the number found and `tried` (the paths that were searched).
IdxArray read_idx(const std::filesystem::path& path, int ndim, const std::vector<std::filesystem::path>& tried = {});

// The file names a stem such as "train-images" (with kind "idx3-ubyte") may have on disk,
// in the order they are tried: STEM-KIND.gz, STEM-KIND, STEM.KIND.gz, STEM.KIND.
std::vector<std::filesystem::path> idx_candidates(const std::filesystem::path& dir, const std::string& stem,
                                                  const std::string& kind);
// The first candidate that exists.
std::optional<std::filesystem::path> find_idx_file(const std::filesystem::path& dir, const std::string& stem,
                                                   const std::string& kind);

// An image file and its label file, checked against each other (same count, labels below
// class_names.size()). mean/std are left for the caller to set.
Dataset read_idx_dataset(const std::filesystem::path& images, const std::filesystem::path& labels,
                         std::vector<std::string> class_names, const std::vector<std::filesystem::path>& tried = {});

}  // namespace bnlab
