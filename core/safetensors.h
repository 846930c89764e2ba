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
#include <span>
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

// Writes atomically (core/atomic_file.h: a fresh temporary file, fsync, rename), so a crash
// never leaves a half-written file under PATH. Throws Error naming the path on I/O failure.
void write_safetensors(const std::string& path, const TensorFile& file);

// Validates everything (sizes, JSON, dtypes, shapes, offsets tiling the data region exactly)
// and throws Error naming the path and the first problem found.
// Only regular files are read (a FIFO would block); the file size is checked against the
// memory budget (core/memory_budget.h) before it is read.
TensorFile read_safetensors(const std::string& path);
// The same checks on bytes already in memory; `source` names them in errors.
TensorFile parse_safetensors(std::span<const uint8_t> bytes, const std::string& source);

}  // namespace bnlab
