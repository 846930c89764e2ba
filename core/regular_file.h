// Opening files that a user named: only regular files (a FIFO blocks, a device never ends,
// a symlink loop or a directory is an error, not an exception escaping to main), and whole
// reads only up to a stated size.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace bnlab {

// Error "PATH: WHAT: <problem>" unless PATH (links followed) is an existing regular file.
void require_regular_file(const std::filesystem::path& path, const std::string& what = "cannot open");

// The whole file; Error naming the path when it is not a regular file, cannot be read, or
// is larger than max_bytes.
std::vector<uint8_t> read_regular_file(const std::filesystem::path& path, int64_t max_bytes,
                                       const std::string& what = "cannot open");

}  // namespace bnlab
