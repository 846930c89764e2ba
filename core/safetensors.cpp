#include "core/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/memory_budget.h"
#include "core/regular_file.h"

namespace bnlab {

static_assert(std::endian::native == std::endian::little,
              "safetensors stores little-endian data; bnlab reads and writes it with memcpy");

namespace {

using nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = 100u << 20;  // the format's own limit is 100 MB

[[noreturn]] void fail(const std::string& path, const std::string& problem) {
    throw Error(path + ": " + problem);
}

json shape_json(const Shape& shape) {
    json dims = json::array();
    for (int64_t d : shape) dims.push_back(d);
    return dims;
}

}  // namespace

const Tensor& TensorFile::tensor(const std::string& name) const {
    auto it = f32.find(name);
    if (it == f32.end()) throw Error(source + ": no F32 tensor named '" + name + "'");
    return it->second;
}

void write_safetensors(const std::string& path, const TensorFile& file) {
    // Lay the tensors out in name order (the two maps merged), each right after the previous.
    std::vector<std::pair<std::string, std::pair<const char*, uint64_t>>> blobs;  // name -> (bytes, size)
    json header = json::object();
    uint64_t offset = 0;
    const auto add = [&](const std::string& name, const char* dtype, const Shape& shape, const void* data,
                         uint64_t bytes) {
        header[name] = {{"dtype", dtype}, {"shape", shape_json(shape)}, {"data_offsets", {offset, offset + bytes}}};
        blobs.push_back({name, {static_cast<const char*>(data), bytes}});
        offset += bytes;
    };
    for (const auto& [name, t] : file.f32) {
        if (file.i64.count(name)) throw Error(path + ": tensor name '" + name + "' used twice");
        add(name, "F32", t.shape(), t.data(), static_cast<uint64_t>(t.numel()) * sizeof(float));
    }
    for (const auto& [name, t] : file.i64) add(name, "I64", t.shape, t.values.data(), t.values.size() * sizeof(int64_t));
    if (!file.metadata.empty()) header["__metadata__"] = file.metadata;

    std::string header_text = header.dump();
    header_text.append((8 - header_text.size() % 8) % 8, ' ');  // pad so the data starts 8-aligned
    const uint64_t header_size = header_text.size();

    write_atomically(path, [&](std::ostream& out) {
        out.write(reinterpret_cast<const char*>(&header_size), sizeof(header_size));
        out.write(header_text.data(), static_cast<std::streamsize>(header_text.size()));
        for (const auto& [name, blob] : blobs) out.write(blob.first, static_cast<std::streamsize>(blob.second));
    });
}

TensorFile read_safetensors(const std::string& path) {
    const std::vector<uint8_t> bytes = read_regular_file(path, memory_budget_bytes());
    return parse_safetensors(bytes, path);
}

TensorFile parse_safetensors(std::span<const uint8_t> bytes, const std::string& path) {
    if (bytes.size() < 8) fail(path, "truncated: " + std::to_string(bytes.size()) + " bytes, not even a header length");
    uint64_t header_size = 0;
    std::memcpy(&header_size, bytes.data(), 8);
    if (header_size > kMaxHeaderBytes || header_size > bytes.size() - 8)
        fail(path, "header length " + std::to_string(header_size) + " does not fit in a file of " +
                       std::to_string(bytes.size()) + " bytes (truncated or not a safetensors file)");
    json header;
    try {
        header = json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(header_size));
    } catch (const json::exception& e) {  // parse_error, and out_of_range for a number like 1e999
        fail(path, std::string("header is not valid JSON: ") + e.what());
    }
    if (!header.is_object()) fail(path, "header is not a JSON object");

    TensorFile file;
    file.source = path;
    const uint8_t* data = bytes.data() + 8 + header_size;
    const uint64_t data_size = bytes.size() - 8 - header_size;
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (const auto& item : header.items()) {
        const std::string& name = item.key();  // not a structured binding: lambdas below capture it
        const json& entry = item.value();
        if (name == "__metadata__") {
            if (!entry.is_object()) fail(path, "__metadata__ is not an object");
            for (const auto& [k, v] : entry.items()) {
                if (!v.is_string()) fail(path, "__metadata__ value for '" + k + "' is not a string");
                file.metadata[k] = v.get<std::string>();
            }
            continue;
        }
        const auto bad = [&](const std::string& problem) { fail(path, "tensor '" + name + "': " + problem); };
        if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets"))
            bad("needs dtype, shape and data_offsets");
        if (!entry["dtype"].is_string()) bad("dtype is not a string");
        const std::string dtype = entry["dtype"].get<std::string>();
        size_t element_size = 0;
        if (dtype == "F32") element_size = 4;
        else if (dtype == "I64") element_size = 8;
        else bad("dtype " + dtype + " is not supported (bnlab reads F32 and I64)");

        Shape shape;
        if (!entry["shape"].is_array() || entry["shape"].size() > Shape::kMaxDims) bad("bad shape");
        for (const auto& d : entry["shape"]) {
            if (!d.is_number_unsigned() || d.get<uint64_t>() > uint64_t{INT64_MAX})
                bad("shape has a dimension that is not an integer in [0, 2^63)");
            shape.push_back(d.get<int64_t>());
        }
        const auto& off = entry["data_offsets"];
        if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
            bad("data_offsets must be [begin, end]");
        const auto begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
        if (begin > end || end > data_size)
            bad("data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "] outside the " +
                std::to_string(data_size) + " data bytes (truncated file?)");
        int64_t needed = 0;  // bytes: numel x element size, an overflow is an error
        try {
            needed = checked_product({shape.numel(), static_cast<int64_t>(element_size)}, "shape " + shape.str());
        } catch (const Error& e) {
            bad(e.what());
        }
        if (end - begin != static_cast<uint64_t>(needed))
            bad("holds " + std::to_string(end - begin) + " bytes but shape " + shape.str() + " of " + dtype +
                " needs " + std::to_string(needed));
        ranges.push_back({begin, end});

        if (dtype == "F32") {
            Tensor t = Tensor::empty(shape);
            std::memcpy(t.data(), data + begin, end - begin);
            file.f32.emplace(name, std::move(t));
        } else {
            TensorFile::Int64Tensor t{shape, std::vector<int64_t>(static_cast<size_t>(shape.numel()))};
            std::memcpy(t.values.data(), data + begin, end - begin);
            file.i64.emplace(name, std::move(t));
        }
    }
    // As the reference reader requires: the tensors tile the data region exactly, in offset
    // order, no gap, no overlap, nothing left over. A header length off by even one byte
    // shifts every tensor and fails here.
    std::sort(ranges.begin(), ranges.end());
    uint64_t covered = 0;
    for (const auto& [begin, end] : ranges) {
        if (begin != covered)
            fail(path, begin < covered ? "tensor data ranges overlap (corrupt header)"
                                       : "a gap in the tensor data at byte " + std::to_string(covered) +
                                             " (wrong header length or corrupt offsets)");
        covered = end;
    }
    if (covered != data_size)
        fail(path, "the tensors cover " + std::to_string(covered) + " of the " + std::to_string(data_size) +
                       " data bytes (wrong header length, or bytes appended)");
    return file;
}

}  // namespace bnlab
