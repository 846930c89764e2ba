// Writing files so that a crash never leaves a half-written file behind: the content goes
// to PATH.tmp, is flushed, then renamed over PATH (rename is atomic on POSIX file systems).
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <string_view>

namespace bnlab {

// Calls write(out) on a stream into PATH.tmp, then renames it to PATH. Throws Error naming
// the path if the file cannot be written (the .tmp file is removed).
void write_atomically(const std::string& path, const std::function<void(std::ostream&)>& write);
void write_text_atomically(const std::string& path, std::string_view content);

}  // namespace bnlab
