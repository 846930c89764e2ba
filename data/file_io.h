// Reading data files front to back: plain files and gzip files alike (gzip is recognised by
// its content, whatever the name), never more than the caller asks for. A gzip bomb (a few
// MB that inflate to GBs) therefore costs only what the reader decided to read: the IDX
// reader asks for exactly the bytes its header declares, whole-file reads stop at a limit.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/memory_budget.h"

namespace bnlab {

// One open data file. Errors name the path.
class ByteReader {
public:
    // Error when the path is missing, a directory, a FIFO or device (which could block),
    // a symlink loop, or cannot be opened.
    explicit ByteReader(const std::filesystem::path& path);
    ~ByteReader();
    ByteReader(const ByteReader&) = delete;
    ByteReader& operator=(const ByteReader&) = delete;

    // Reads up to `count` bytes into `out` (decompressed), fewer only at the end of the
    // content; Error when the gzip stream is corrupt or cut short.
    size_t read(uint8_t* out, size_t count);
    // Reads and discards up to `count` bytes; the number there were.
    size_t skip(size_t count);
    const std::string& name() const { return name_; }

private:
    std::string name_;
    struct GzFile;
    std::unique_ptr<GzFile> file_;
};

// The whole content. Error naming the path when it cannot be read, its gzip stream is
// corrupt or cut short, or it holds more than `max_bytes` (decompressed).
std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path, int64_t max_bytes = memory_budget_bytes());

}  // namespace bnlab
