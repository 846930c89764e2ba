#include "data/file_io.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "core/error.h"
#include "core/regular_file.h"

namespace bnlab {

namespace fs = std::filesystem;

struct ByteReader::GzFile {
    gzFile handle = nullptr;
    ~GzFile() {
        if (handle) gzclose(handle);
    }
};

ByteReader::ByteReader(const fs::path& path) : name_(path.string()), file_(std::make_unique<GzFile>()) {
    require_regular_file(path);
    // gzread() passes files that are not gzip through unchanged, so one code path serves both.
    file_->handle = gzopen(path.c_str(), "rb");
    if (!file_->handle) throw Error(name_ + ": cannot open: " + std::strerror(errno));
    gzbuffer(file_->handle, 1 << 17);
}

ByteReader::~ByteReader() = default;

size_t ByteReader::read(uint8_t* out, size_t count) {
    size_t total = 0;
    while (total < count) {
        const auto chunk = static_cast<unsigned>(std::min<size_t>(count - total, 1u << 30));
        const int got = gzread(file_->handle, out + total, chunk);
        if (got < 0) {
            int code = 0;
            throw Error(name_ + ": corrupt gzip data (" + gzerror(file_->handle, &code) + ")");
        }
        if (got == 0) break;
        total += static_cast<size_t>(got);
    }
    if (total < count) {
        // A gzip stream cut short reads as a short file; zlib flags it only in gzerror().
        int code = 0;
        const char* message = gzerror(file_->handle, &code);
        if (code != Z_OK) throw Error(name_ + ": corrupt or truncated gzip data (" + message + ")");
    }
    return total;
}

size_t ByteReader::skip(size_t count) {
    uint8_t scratch[1 << 14];
    size_t total = 0;
    while (total < count) {
        const size_t got = read(scratch, std::min(sizeof scratch, count - total));
        total += got;
        if (got == 0) break;
    }
    return total;
}

std::vector<uint8_t> read_file_bytes(const fs::path& path, int64_t max_bytes) {
    ByteReader reader(path);
    std::vector<uint8_t> bytes;
    for (size_t chunk = size_t{1} << 16;; chunk = std::min(chunk * 2, size_t{1} << 26)) {
        const size_t old_size = bytes.size();
        bytes.resize(old_size + chunk);
        const size_t got = reader.read(bytes.data() + old_size, chunk);
        bytes.resize(old_size + got);
        if (static_cast<int64_t>(bytes.size()) > max_bytes)
            throw Error(reader.name() + ": holds more than " + human_bytes(max_bytes) +
                        " (decompressed), the limit for one file (memory budget)");
        if (got < chunk) break;
    }
    bytes.shrink_to_fit();
    return bytes;
}

}  // namespace bnlab
