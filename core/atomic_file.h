// Writing files so that a crash, a kill or a full disk never leaves a half-written file
// under PATH, and so that nobody else's file is ever written through a planted link:
//   1. the content goes to a new temporary file beside PATH with a unique name
//      (PATH.tmp-<pid>-<n>), created with O_CREAT|O_EXCL|O_NOFOLLOW: an existing file or a
//      symlink at that name is never opened, let alone followed;
//   2. every write is checked (ENOSPC, EFBIG, EIO are errors, never a short file), the
//      file is fsync()ed and closed (close errors count too);
//   3. it is renamed over PATH (atomic on POSIX file systems), then PATH's directory is
//      fsync()ed so the rename itself survives a power loss.
// On any failure, the callback's exceptions included, the temporary file is removed and
// PATH is left as it was. A PATH that exists and is not a regular file or a directory
// (a device such as /dev/full, a FIFO, a socket) is refused rather than replaced.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <string_view>

namespace bnlab {

// Calls write(out) on a stream into the temporary file, then renames it to PATH. Throws
// Error naming the path if the file cannot be written or moved into place.
void write_atomically(const std::string& path, const std::function<void(std::ostream&)>& write);
void write_text_atomically(const std::string& path, std::string_view content);

// The same guarantees for a file another program writes by name (gnuplot's `set output`):
// creates the empty temporary file exclusively (step 1), calls produce(temp_path), which
// must write the whole file there, then fsyncs it and renames it over PATH (step 3). If
// produce throws, the temporary file is removed and the exception passes on.
void produce_atomically(const std::string& path, const std::function<void(const std::string& temp_path)>& produce);

// fsync() of a folder, so renames and removals in it survive a power loss.
void sync_directory(const std::string& dir);

}  // namespace bnlab
