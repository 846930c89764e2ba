// Whole-file reads for the data readers: plain files and gzip files alike.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace bnlab {

// The file's bytes. A gzip file (any name) is decompressed through zlib; other files are
// returned as stored. Throws Error naming the path when it cannot be opened or read, or
// when its gzip stream is corrupt or cut short.
std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path);

}  // namespace bnlab
