#include "data/fetch.h"

#include <cstdlib>
#include <optional>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "data/checksum.h"
#include "data/file_io.h"

namespace bnlab {

namespace fs = std::filesystem;

namespace {

using Status = FileCheck::Status;

// Compares the file's stored bytes with its published md5 and/or sha1; "" when they match,
// else what differed.
std::string compare_published(const PublishedFile& published, const fs::path& path) {
    std::string problems;
    if (!published.md5.empty()) {
        const std::string md5 = file_digest_hex(DigestKind::md5, path);
        if (md5 != published.md5) problems += "md5 " + md5 + ", published " + published.md5;
    }
    if (!published.sha1.empty()) {
        const std::string sha1 = file_digest_hex(DigestKind::sha1, path);
        if (sha1 != published.sha1) problems += (problems.empty() ? "" : "; ") + ("sha1 " + sha1 + ", published " + published.sha1);
    }
    return problems;
}

FileCheck check_file(const PublishedFile& published, const fs::path& folder) {
    FileCheck check{published.name, {}, Status::missing, "not in " + folder.string()};
    if (fs::is_regular_file(folder / published.name)) {
        check.path = folder / published.name;
        const std::string problems = compare_published(published, check.path);
        if (problems.empty()) return {published.name, check.path, Status::ok, "matches the published checksum"};
        if (published.content_md5.empty()) return {published.name, check.path, Status::mismatch, problems};
        // A recompressed .gz (e.g. Debian's) differs as a file but may hold the very same bytes.
        const std::vector<uint8_t> contents = read_file_bytes(check.path);
        const std::string content_md5 = digest_hex(DigestKind::md5, contents);
        if (content_md5 == published.content_md5)
            return {published.name, check.path, Status::ok_contents, "recompressed, contents match (" + problems + ")"};
        return {published.name, check.path, Status::mismatch, problems + "; contents md5 " + content_md5};
    }
    // The uncompressed file under either IDX spelling: "x-idx3-ubyte" or "x.idx3-ubyte".
    if (!published.name.ends_with(".gz")) return check;
    std::string raw = published.name.substr(0, published.name.size() - 3);
    std::string dotted = raw;
    if (const size_t dash = dotted.rfind("-idx"); dash != std::string::npos) dotted[dash] = '.';
    for (const std::string& name : {raw, dotted}) {
        if (!fs::is_regular_file(folder / name)) continue;
        check.path = folder / name;
        if (published.content_md5.empty())
            return {published.name, check.path, Status::unverified, "uncompressed; no checksum known for its contents"};
        const std::string md5 = file_digest_hex(DigestKind::md5, check.path);
        if (md5 == published.content_md5)
            return {published.name, check.path, Status::ok_contents, "uncompressed, contents match"};
        return {published.name, check.path, Status::mismatch, "contents md5 " + md5 + ", expected " + published.content_md5};
    }
    return check;
}

// 'text' quoted for /bin/sh.
std::string shell_quote(const std::string& text) {
    std::string quoted = "'";
    for (char ch : text) quoted += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    return quoted + "'";
}

// Runs a shell command; returns its exit status (or -1 when it did not exit normally).
int run_command(const std::string& command) {
    const int status = std::system(command.c_str());
    if (status == -1 || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

// Fetches `name` from the first mirror that serves it with the right checksum, into folder/name.
void fetch_file(const fs::path& curl, const std::vector<std::string>& mirrors, const PublishedFile& published,
                const fs::path& folder, const std::function<void(const std::string&)>& progress) {
    const fs::path target = folder / published.name, partial = folder / (published.name + ".part");
    std::string failures;
    for (const std::string& mirror : mirrors) {
        const std::string url = mirror + published.name;
        progress("downloading " + url);
        const int code = run_command(shell_quote(curl.string()) + " -fsSL --retry 2 --connect-timeout 20 -o " +
                                     shell_quote(partial.string()) + " " + shell_quote(url));
        if (code != 0) {
            failures += "\n  " + url + ": curl exit code " + std::to_string(code);
            continue;
        }
        const std::string problems = compare_published(published, partial);
        if (!problems.empty()) {
            failures += "\n  " + url + ": wrong file (" + problems + ")";
            continue;
        }
        fs::rename(partial, target);
        return;
    }
    fs::remove(partial);
    throw Error("could not download " + published.name + ":" + failures +
                "\n(curl exit codes 6 and 7 mean no network: are you offline? Otherwise the server may have moved;"
                " fetch the files by hand into " + folder.string() + ")");
}

}  // namespace

const char* status_name(Status status) {
    switch (status) {
        case Status::ok: return "OK";
        case Status::ok_contents: return "OK";
        case Status::mismatch: return "MISMATCH";
        case Status::missing: return "MISSING";
        case Status::unverified: return "UNVERIFIED";
    }
    return "?";
}

std::vector<FileCheck> verify_folder(const DatasetSpec& spec, const fs::path& folder) {
    std::vector<FileCheck> checks;
    for (const PublishedFile& published : spec.published) checks.push_back(check_file(published, folder));
    return checks;
}

fs::path find_on_path(const std::string& program) {
    const char* path = std::getenv("PATH");
    if (path == nullptr) return {};
    std::string dirs = path;
    size_t start = 0;
    while (start <= dirs.size()) {
        const size_t end = std::min(dirs.find(':', start), dirs.size());
        const fs::path candidate = fs::path(dirs.substr(start, end - start)) / program;
        if (end > start && access(candidate.c_str(), X_OK) == 0) return candidate;
        start = end + 1;
    }
    return {};
}

fs::path download_dataset(const DatasetSpec& spec, const fs::path& to,
                          const std::function<void(const std::string&)>& progress) {
    const fs::path curl = find_on_path("curl");
    if (curl.empty())
        throw Error("bnlab data download needs curl, which is not on PATH: install it (apt install curl) or fetch " +
                    (spec.archive.name.empty() ? std::string("the files") : spec.archive.name) + " from " +
                    spec.mirrors.front() + " by hand");
    const fs::path folder = to / spec.folders.front();
    std::error_code error;
    fs::create_directories(folder, error);
    if (error) throw Error(folder.string() + ": cannot create: " + error.message());
    auto all_present = [&] {
        for (const FileCheck& check : verify_folder(spec, folder))
            if (check.status != Status::ok) return false;
        return true;
    };
    if (spec.archive.name.empty()) {
        for (const PublishedFile& published : spec.published) {
            if (check_file(published, folder).status == Status::ok) {
                progress(published.name + " already present and correct");
                continue;
            }
            fetch_file(curl, spec.mirrors, published, folder, progress);
        }
    } else if (!all_present()) {
        // The archive holds one top folder, the last part of spec.folders[0]: unpack it from its parent.
        const fs::path parent = folder.parent_path();
        fetch_file(curl, spec.mirrors, spec.archive, parent, progress);
        progress("unpacking " + spec.archive.name);
        const fs::path archive = parent / spec.archive.name;
        const int code = run_command("tar -xzf " + shell_quote(archive.string()) + " -C " + shell_quote(parent.string()));
        if (code != 0) throw Error(archive.string() + ": tar could not unpack it (exit code " + std::to_string(code) + ")");
        fs::remove(archive);
    }
    for (const FileCheck& check : verify_folder(spec, folder))
        if (check.status != Status::ok)
            throw Error(folder.string() + ": after download, " + check.file + " is " + status_name(check.status) +
                        ": " + check.detail);
    progress("all files of " + spec.name + " verified in " + folder.string());
    return folder;
}

}  // namespace bnlab
