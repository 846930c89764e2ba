// The binary version of CIFAR-10 and CIFAR-100 (cs.toronto.edu/~kriz/cifar.html).
//   CIFAR-10  (data_batch_1..5.bin, test_batch.bin): records of 1 + 3072 bytes,
//             <label 0..9> <1024 R> <1024 G> <1024 B>
//   CIFAR-100 (train.bin, test.bin): records of 2 + 3072 bytes,
//             <coarse label 0..19> <fine label 0..99> <1024 R> <1024 G> <1024 B>
// Each colour plane is 32x32, row-major: the pixels are already (C=3, H=32, W=32), so a
// record's last 3072 bytes are one NCHW image as is. A file is a whole number of records.
#pragma once

#include <filesystem>

#include "data/dataset.h"

namespace bnlab {

enum class CifarLabels {
    cifar10,          // 1 label byte, 10 classes
    cifar100_fine,    // 2 label bytes, the second (100 classes) is used
    cifar100_coarse,  // 2 label bytes, the first (20 superclasses) is used
};

// Appends every record of `path` to `data` (whose class_names must already be set; it sets
// the 3x32x32 shape). Throws Error naming the path for an empty or truncated file (size not
// a multiple of the record size) and for a label out of range (giving the record index).
void append_cifar_file(const std::filesystem::path& path, CifarLabels labels, Dataset& data);

}  // namespace bnlab
