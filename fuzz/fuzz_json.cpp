// libFuzzer target: the JSON readers of user files: a run's config (config_from_json +
// validate, as a model file's bnlab.config is read) and a claim's summary.json (claims
// index, read from a scratch folder).
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "experiments/claims/claim.h"
#include "train/config.h"

namespace {

// One scratch folder per fuzzing process, holding <first claim>/summary.json; removed at exit.
struct ScratchFolder {
    std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("bnlab-fuzz-json-" + std::to_string(::getpid()));
    ScratchFolder() { std::filesystem::create_directories(path / bnlab::claims::all_claims().front().name); }
    ~ScratchFolder() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
};

const std::filesystem::path& scratch() {
    static const ScratchFolder folder;
    return folder.path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const nlohmann::json j = nlohmann::json::parse(data, data + size);
        bnlab::config_from_json(j).validate();
    } catch (const nlohmann::json::exception&) {
    } catch (const bnlab::Error&) {
    }
    {
        std::ofstream out(scratch() / bnlab::claims::all_claims().front().name / "summary.json", std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    try {
        (void)bnlab::claims::write_index(scratch().string());
    } catch (const bnlab::Error&) {
    }
    return 0;
}
