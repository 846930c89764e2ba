// Checking a data set's files against their published checksums, and downloading them.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "data/catalog.h"

namespace bnlab {

struct FileCheck {
    enum class Status {
        ok,           // the file's published md5/sha1 matches
        ok_contents,  // a recompressed .gz or an uncompressed file whose contents match
        mismatch,     // differs from every checksum known for it
        missing,      // not in the folder
        unverified,   // present, but no checksum is known for it in this form
    };
    std::string file;            // the published name
    std::filesystem::path path;  // where it was found (empty when missing)
    Status status;
    std::string detail;  // e.g. "md5 0123... expected 4567..."
};
const char* status_name(FileCheck::Status status);

// Checks every published file of `spec` found in `folder` (for IDX also the uncompressed
// spellings, compared by content). Throws Error only when a present file cannot be read.
std::vector<FileCheck> verify_folder(const DatasetSpec& spec, const std::filesystem::path& folder);

// Downloads `spec` into to/<spec.folders[0]> (CIFAR: the archive is unpacked there with tar),
// checks every file, and returns that folder. Files already present and correct are kept.
// Uses the `curl` found on $PATH. Throws Error with a clear message when curl is missing,
// a download fails (offline, server gone: every mirror tried is listed) or a checksum differs.
// `progress` receives one line per step.
std::filesystem::path download_dataset(const DatasetSpec& spec, const std::filesystem::path& to,
                                       const std::function<void(const std::string&)>& progress);

// The full path of `program` on $PATH, or empty.
std::filesystem::path find_on_path(const std::string& program);

}  // namespace bnlab
