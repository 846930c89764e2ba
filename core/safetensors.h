// Reading and writing the safetensors format (https://huggingface.co/docs/safetensors):
//   8 bytes: N, the header length, little-endian u64
//   N bytes: JSON {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//                  "__metadata__": {"key": "value", ...}}   (optional string map)
//   the rest: raw little-endian tensor bytes; offsets are relative to the end of the header.
// bnlab stores float32 tensors as F32 and integer counters (BatchNorm's num_batches_tracked)
// as I64, so PyTorch's state_dict files load here and ours load there.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace bnlab {

struct TensorFile {
    struct Int64Tensor {
        Shape shape;
        std::vector<int64_t> values;
    };
    std::map<std::string, Tensor> f32;
    std::map<std::string, Int64Tensor> i64;
    std::map<std::string, std::string> metadata;

    bool contains(const std::string& name) const { return f32.count(name) || i64.count(name); }
    // The F32 tensor `name`; an Error naming the file's `source` and the name if absent.
    const Tensor& tensor(const std::string& name) const;
    std::string source;  // the path it was read from, for error messages
};

// Writes atomically: into PATH.tmp, flushed, then renamed over PATH, so a crash never
// leaves a half-written file under PATH. Throws Error naming the path on I/O failure.
void write_safetensors(const std::string& path, const TensorFile& file);

// Validates everything (sizes, JSON, dtypes, shapes, offsets inside the data, no overlap)
// and throws Error naming the path and the first problem found.
TensorFile read_safetensors(const std::string& path);

}  // namespace bnlab
