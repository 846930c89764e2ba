// libFuzzer target: the safetensors reader, then the model rebuilt from its bnlab metadata
// (load_model: config JSON, input sizes, the declared-size check, load_state_dict).
#include <span>

#include "core/error.h"
#include "core/safetensors.h"
#include "fuzz/memory_file.h"
#include "train/model_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        (void)bnlab::parse_safetensors(std::span<const uint8_t>(data, size), "fuzz.safetensors");
    } catch (const bnlab::Error&) {
        return 0;
    }
    const bnlab::fuzz::MemoryFile file(data, size);
    try {
        // A small budget: the fuzzer's memory limit is 2 GiB, and a model the metadata
        // declares within the budget is built for real.
        (void)bnlab::load_model(file.path(), int64_t{256} << 20);
    } catch (const bnlab::Error&) {
    }
    return 0;
}
