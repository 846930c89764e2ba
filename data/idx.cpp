#include "data/idx.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"
#include "core/memory_budget.h"
#include "data/file_io.h"

namespace bnlab {

namespace fs = std::filesystem;

namespace {

uint32_t read_big_endian_u32(const uint8_t* p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

std::string hex32(uint32_t value) {
    char text[16];
    std::snprintf(text, sizeof text, "0x%08x", value);
    return text;
}

std::string join_paths(const std::vector<fs::path>& paths) {
    std::string text;
    for (const fs::path& p : paths) text += (text.empty() ? "" : ", ") + p.string();
    return text;
}

}  // namespace

IdxArray read_idx(const fs::path& path, int ndim, const std::vector<fs::path>& tried) {
    // Header first, then exactly the values it declares: nothing beyond that is inflated
    // (at most kExtraProbe bytes, to tell "too long" apart and give the size found).
    constexpr size_t kExtraProbe = 1 << 20;
    ByteReader in(path);
    const std::string name = path.string();
    uint8_t header[4 + 4 * 8] = {};
    const size_t header_size = 4 + 4 * static_cast<size_t>(ndim);
    if (ndim < 1 || header_size > sizeof header) throw Error(name + ": bad IDX rank " + std::to_string(ndim));
    const size_t header_got = in.read(header, header_size);
    if (header_got < 4) throw Error(name + ": truncated: " + std::to_string(header_got) + " bytes, no IDX header");
    const uint32_t magic = read_big_endian_u32(header);
    const uint32_t expected_magic = 0x0800u | static_cast<uint32_t>(ndim);
    if (magic != expected_magic) {
        std::string message = name + ": bad magic number " + hex32(magic) + ", expected " + hex32(expected_magic) +
                              " (IDX of unsigned bytes with " + std::to_string(ndim) + " dimensions)";
        if (!tried.empty()) message += "; paths tried: " + join_paths(tried);
        throw Error(message);
    }
    if (header_got < header_size)
        throw Error(name + ": truncated: " + std::to_string(header_got) + " bytes, the header alone needs " +
                    std::to_string(header_size));
    IdxArray array;
    int64_t count = 1;
    for (int d = 0; d < ndim; ++d) {
        const int64_t size = read_big_endian_u32(header + 4 + 4 * d);
        if (size == 0 || size > (int64_t{1} << 31)) throw Error(name + ": dimension " + std::to_string(d) +
                                                                " has size " + std::to_string(size));
        array.dims.push_back(size);
        if (__builtin_mul_overflow(count, size, &count) || count > (int64_t{1} << 40))
            throw Error(name + ": sizes multiply to more than 2^40 values");
    }
    check_memory_budget(count, name + ": the header declares " + std::to_string(count) + " values");
    const size_t expected_size = header_size + static_cast<size_t>(count);
    // Grown as the bytes arrive, so a short file with a header claiming gigabytes costs only
    // what it holds.
    for (size_t chunk = size_t{1} << 16; array.values.size() < static_cast<size_t>(count);
         chunk = std::min(chunk * 2, size_t{1} << 26)) {
        const size_t have = array.values.size(), want = std::min(chunk, static_cast<size_t>(count) - have);
        array.values.resize(have + want);
        const size_t got = in.read(array.values.data() + have, want);
        array.values.resize(have + got);
        if (got < want) break;
    }
    const size_t got = header_size + array.values.size();
    if (got < expected_size)
        throw Error(name + ": truncated: " + std::to_string(got) + " bytes, but the header's sizes need exactly " +
                    std::to_string(expected_size));
    if (const size_t extra = in.skip(kExtraProbe); extra > 0)
        throw Error(name + ": too long: " + (extra < kExtraProbe ? "" : "more than ") +
                    std::to_string(expected_size + extra) + " bytes, but the header's sizes need exactly " +
                    std::to_string(expected_size));
    return array;
}

std::vector<fs::path> idx_candidates(const fs::path& dir, const std::string& stem, const std::string& kind) {
    return {dir / (stem + "-" + kind + ".gz"), dir / (stem + "-" + kind), dir / (stem + "." + kind + ".gz"),
            dir / (stem + "." + kind)};
}

std::optional<fs::path> find_idx_file(const fs::path& dir, const std::string& stem, const std::string& kind) {
    for (const fs::path& candidate : idx_candidates(dir, stem, kind))
        if (fs::is_regular_file(candidate)) return candidate;
    return std::nullopt;
}

Dataset read_idx_dataset(const fs::path& images, const fs::path& labels, std::vector<std::string> class_names,
                         const std::vector<fs::path>& tried) {
    IdxArray image_array = read_idx(images, 3, tried);
    IdxArray label_array = read_idx(labels, 1, tried);
    if (image_array.dims[0] != label_array.dims[0])
        throw Error(images.string() + " holds " + std::to_string(image_array.dims[0]) + " images but " +
                    labels.string() + " holds " + std::to_string(label_array.dims[0]) + " labels");
    Dataset data;
    data.channels = 1;
    data.height = image_array.dims[1];
    data.width = image_array.dims[2];
    data.pixels = std::move(image_array.values);
    data.class_names = std::move(class_names);
    const auto classes = static_cast<int32_t>(data.class_names.size());
    data.labels.reserve(label_array.values.size());
    for (size_t i = 0; i < label_array.values.size(); ++i) {
        const int32_t label = label_array.values[i];
        if (label >= classes)
            throw Error(labels.string() + ": label " + std::to_string(label) + " of item " + std::to_string(i) +
                        " is out of range [0, " + std::to_string(classes) + ")");
        data.labels.push_back(label);
    }
    data.files = {images.string(), labels.string()};
    return data;
}

}  // namespace bnlab
