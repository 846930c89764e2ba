#include "data/file_io.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "core/error.h"

namespace bnlab {

std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path) {
    // gzread() passes files that are not gzip through unchanged, so one code path serves both.
    if (std::filesystem::is_directory(path)) throw Error(path.string() + ": is a directory, not a file");
    struct Close {
        void operator()(gzFile_s* f) const { gzclose(f); }
    };
    std::unique_ptr<gzFile_s, Close> file(gzopen(path.c_str(), "rb"));
    if (!file) throw Error(path.string() + ": cannot open: " + std::strerror(errno));
    gzbuffer(file.get(), 1 << 17);
    std::vector<uint8_t> bytes;
    constexpr size_t kChunk = 1 << 20;
    for (;;) {
        const size_t old_size = bytes.size();
        bytes.resize(old_size + kChunk);
        const int got = gzread(file.get(), bytes.data() + old_size, static_cast<unsigned>(kChunk));
        if (got < 0) {
            int code = 0;
            const char* message = gzerror(file.get(), &code);
            throw Error(path.string() + ": corrupt gzip data (" + message + ")");
        }
        bytes.resize(old_size + static_cast<size_t>(got));
        if (got == 0) break;
    }
    // A gzip stream cut short reads as a short file; zlib flags it only in gzerror().
    int code = 0;
    const char* message = gzerror(file.get(), &code);
    if (code != Z_OK) throw Error(path.string() + ": corrupt or truncated gzip data (" + message + ")");
    bytes.shrink_to_fit();
    return bytes;
}

}  // namespace bnlab
