// libFuzzer target: the CIFAR-10/100 binary reader.
#include "core/error.h"
#include "data/cifar.h"
#include "fuzz/memory_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const bnlab::fuzz::MemoryFile file(data, size);
    for (auto labels : {bnlab::CifarLabels::cifar10, bnlab::CifarLabels::cifar100_fine, bnlab::CifarLabels::cifar100_coarse}) {
        bnlab::Dataset dataset;
        dataset.class_names.assign(labels == bnlab::CifarLabels::cifar100_fine ? 100 : 10, "class");
        try {
            bnlab::append_cifar_file(file.path(), labels, dataset);
            if (dataset.pixels.size() != dataset.labels.size() * 3072) __builtin_trap();
        } catch (const bnlab::Error&) {
        }
    }
    return 0;
}
