#include "core/regular_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "core/error.h"
#include "core/memory_budget.h"

namespace bnlab {

namespace fs = std::filesystem;

void require_regular_file(const fs::path& path, const std::string& what) {
    const std::string name = path.string() + ": " + what;
    std::error_code ec;
    const fs::file_status status = fs::status(path, ec);  // follows links; a loop is an error code
    if (ec && ec != std::errc::no_such_file_or_directory) throw Error(name + ": " + ec.message());
    if (!fs::exists(status)) throw Error(name + ": no such file");
    if (fs::is_directory(status)) throw Error(name + ": is a directory, not a file");
    if (!fs::is_regular_file(status)) throw Error(name + ": not a regular file (a FIFO or device is not read)");
}

std::vector<uint8_t> read_regular_file(const fs::path& path, int64_t max_bytes, const std::string& what) {
    require_regular_file(path, what);
    const std::string name = path.string() + ": " + what;
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) throw Error(name + ": " + std::strerror(errno));
    const auto size = static_cast<int64_t>(in.tellg());
    if (size < 0) throw Error(name + ": cannot tell its size");
    if (size > max_bytes)
        throw Error(name + ": " + human_bytes(size) + " is more than the " + human_bytes(max_bytes) +
                    " such a file may hold");
    std::vector<uint8_t> bytes(static_cast<size_t>(size));
    in.seekg(0);
    if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size())))
        throw Error(name + ": read failed (the file changed while it was read?)");
    return bytes;
}

}  // namespace bnlab
