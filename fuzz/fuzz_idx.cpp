// libFuzzer target: the IDX reader (raw and gzip, header, sizes, bounded inflate).
#include "core/error.h"
#include "data/idx.h"
#include "fuzz/memory_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const bnlab::fuzz::MemoryFile file(data, size);
    for (int ndim : {1, 3}) {
        try {
            const bnlab::IdxArray array = bnlab::read_idx(file.path(), ndim);
            size_t count = 1;
            for (int64_t d : array.dims) count *= static_cast<size_t>(d);
            if (count != array.values.size()) __builtin_trap();  // the sizes must describe the values
        } catch (const bnlab::Error&) {
        }
    }
    return 0;
}
