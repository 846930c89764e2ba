// Helpers shared by the tests: a temporary folder, reading and writing files, and running
// a shell command (or the built bnlab) with its output and exit code captured.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace bnlab::test {

namespace fs = std::filesystem;

// A fresh folder under the system's temp folder, removed with everything in it at scope exit.
class TempDir {
public:
    TempDir() {
        static std::atomic<int> counter{0};
        path_ = fs::temp_directory_path() /
                ("bnlab-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const fs::path& path() const { return path_; }
    fs::path operator/(const std::string& name) const { return path_ / name; }

private:
    fs::path path_;
};

inline void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline std::vector<uint8_t> read_bytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs a shell command, capturing stdout+stderr; returns the exit code.
struct CommandResult {
    int exit_code;
    std::string output;
};
inline CommandResult run_shell(const std::string& command) {
    TempDir dir;
    const fs::path out = dir / "output.txt";
    const int status = std::system((command + " > '" + out.string() + "' 2>&1").c_str());
    const std::vector<uint8_t> bytes = read_bytes(out);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, std::string(bytes.begin(), bytes.end())};
}

// Runs the built `bnlab ARGS` with $BNLAB_DATA unset, so only --data-dir and the default
// roots are searched; `env` is prepended as extra VAR=value settings.
inline CommandResult run_bnlab(const std::string& args, const std::string& env = "") {
    return run_shell("env -u BNLAB_DATA " + env + " '" + std::string(BNLAB_BINARY) + "' " + args);
}

}  // namespace bnlab::test
