// libFuzzer target: the image decoder path (magic, header probe, stb_image decode to grey
// and RGB, and read_image's resize to a fixed size).
#include <span>

#include "core/error.h"
#include "data/image_decode.h"
#include "data/image_folder.h"
#include "fuzz/memory_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::span<const uint8_t> bytes(data, size);
    for (int channels : {1, 3}) {
        try {
            bnlab::ImageInfo info;
            const std::vector<uint8_t> hwc = bnlab::decode_image_hwc(bytes, "fuzz", channels, &info);
            if (hwc.size() != static_cast<size_t>(info.width) * static_cast<size_t>(info.height) * channels)
                __builtin_trap();
        } catch (const bnlab::Error&) {
        }
    }
    if (size > 0 && (data[size - 1] & 1)) {  // half the inputs also go through the file + resize path
        const bnlab::fuzz::MemoryFile file(data, size);
        try {
            (void)bnlab::read_image(file.path(), {3, 7, 5});
        } catch (const bnlab::Error&) {
        }
    }
    return 0;
}
