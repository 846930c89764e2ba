// Where the tests find the real data sets that are not Debian packages (MNIST, CIFAR-10):
// ../shared/data beside the checkout, or $BNLAB_SHARED_DATA. Under CI=true a missing data set
// fails the test; elsewhere it is skipped with a warning.
#pragma once

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "test_util.h"

namespace bnlab::test {

inline fs::path shared_data() {
    if (const char* env = std::getenv("BNLAB_SHARED_DATA"); env != nullptr && *env != '\0') return env;
    return fs::path(BNLAB_SOURCE_DIR) / ".." / "shared" / "data";
}

inline bool under_ci() {
    const char* ci = std::getenv("CI");
    return ci != nullptr && std::string(ci) == "true";
}

// Whether `folder` exists; if not, fails under CI and warns elsewhere.
inline bool have(const fs::path& folder, const std::string& how_to_get) {
    if (fs::is_directory(folder)) return true;
    if (under_ci()) FAIL("real data missing under CI: " << folder.string() << " (" << how_to_get << ")");
    WARN("skipped: " << folder.string() << " not found (" << how_to_get << ")");
    return false;
}

}  // namespace bnlab::test
