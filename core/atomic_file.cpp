#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <streambuf>

#include "core/error.h"

namespace bnlab {

namespace {

std::string errno_text(int code) { return std::strerror(code); }

// An output stream buffer over a file descriptor that remembers the first write error
// (errno), so a full disk becomes an exception instead of a silently short file.
class FdBuffer : public std::streambuf {
public:
    explicit FdBuffer(int fd) : fd_(fd) { setp(buffer_, buffer_ + sizeof buffer_); }
    int error() const { return error_; }
    bool flush_all() { return drain() && error_ == 0; }

protected:
    int_type overflow(int_type ch) override {
        if (!drain()) return traits_type::eof();
        if (!traits_type::eq_int_type(ch, traits_type::eof())) {
            *pptr() = traits_type::to_char_type(ch);
            pbump(1);
        }
        return traits_type::not_eof(ch);
    }
    int sync() override { return drain() ? 0 : -1; }

private:
    // Writes the buffered bytes; false (and error_ set) on the first failure.
    bool drain() {
        const char* p = pbase();
        while (error_ == 0 && p < pptr()) {
            const ssize_t n = ::write(fd_, p, static_cast<size_t>(pptr() - p));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) error_ = n < 0 ? errno : ENOSPC;
            else p += n;
        }
        setp(buffer_, buffer_ + sizeof buffer_);
        return error_ == 0;
    }

    int fd_;
    int error_ = 0;
    char buffer_[1 << 16];
};

// The temporary file: created exclusively under a fresh name, removed unless committed.
class TempFile {
public:
    explicit TempFile(const std::string& path) {
        static std::atomic<unsigned> counter{0};
        for (int attempt = 0; attempt < 100; ++attempt) {
            name_ = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
            fd_ = ::open(name_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
            if (fd_ >= 0 || errno != EEXIST) break;
        }
        if (fd_ < 0) throw Error(path + ": cannot create a temporary file beside it: " + errno_text(errno));
    }
    ~TempFile() {
        if (fd_ >= 0) ::close(fd_);
        if (!committed_) ::unlink(name_.c_str());
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;

    int fd() const { return fd_; }
    const std::string& name() const { return name_; }
    // fsync + close; the errno of the first failure, 0 on success.
    int sync_and_close() {
        int error = ::fsync(fd_) == 0 ? 0 : errno;
        if (::close(fd_) != 0 && error == 0) error = errno;
        fd_ = -1;
        return error;
    }
    void commit() { committed_ = true; }

private:
    std::string name_;
    int fd_ = -1;
    bool committed_ = false;
};

void refuse_special_target(const std::string& path) {
    struct stat info {};
    if (::lstat(path.c_str(), &info) != 0) return;  // absent: it will be created
    if (S_ISREG(info.st_mode) || S_ISDIR(info.st_mode) || S_ISLNK(info.st_mode)) return;
    throw Error(path + ": exists and is not a regular file (a device, FIFO or socket): refusing to replace it");
}

// Step 3: the synced temporary file replaces PATH, and the rename is synced too.
void rename_into_place(TempFile& tmp, const std::string& path) {
    if (::rename(tmp.name().c_str(), path.c_str()) != 0)
        throw Error(path + ": cannot rename " + tmp.name() + " into place: " + errno_text(errno));
    tmp.commit();
    const std::string dir = std::filesystem::path(path).parent_path().string();
    sync_directory(dir.empty() ? "." : dir);
}

}  // namespace

void write_atomically(const std::string& path, const std::function<void(std::ostream&)>& write) {
    refuse_special_target(path);
    TempFile tmp(path);
    {
        FdBuffer buffer(tmp.fd());
        std::ostream out(&buffer);
        write(out);
        if (!buffer.flush_all() || !out) {
            const int error = buffer.error();
            throw Error(path + ": write failed: " + (error ? errno_text(error) : "the stream reported an error") +
                        " (nothing was replaced)");
        }
    }
    if (const int error = tmp.sync_and_close())
        throw Error(path + ": write failed on sync/close: " + errno_text(error) + " (nothing was replaced)");
    rename_into_place(tmp, path);
}

void produce_atomically(const std::string& path, const std::function<void(const std::string& temp_path)>& produce) {
    refuse_special_target(path);
    TempFile tmp(path);
    if (const int error = tmp.sync_and_close()) throw Error(path + ": cannot create a temporary file: " + errno_text(error));
    produce(tmp.name());
    // fsync what the other program wrote (it may not have); O_NOFOLLOW: still our regular file.
    const int fd = ::open(tmp.name().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    const int error = fd < 0 ? errno : ::fsync(fd) == 0 ? 0 : errno;
    if (fd >= 0) ::close(fd);
    if (error != 0) throw Error(path + ": cannot sync " + tmp.name() + ": " + errno_text(error) + " (nothing was replaced)");
    rename_into_place(tmp, path);
}

void sync_directory(const std::string& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw Error(dir + ": cannot open the folder to sync it: " + errno_text(errno));
    const int error = ::fsync(fd) == 0 ? 0 : errno;
    ::close(fd);
    // File systems that cannot sync a directory (EINVAL) are not an error.
    if (error != 0 && error != EINVAL) throw Error(dir + ": cannot sync the folder: " + errno_text(error));
}

void write_text_atomically(const std::string& path, std::string_view content) {
    write_atomically(path, [&](std::ostream& out) { out.write(content.data(), static_cast<std::streamsize>(content.size())); });
}

}  // namespace bnlab
