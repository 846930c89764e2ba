#include "data/cifar.h"

#include <cstring>

#include "core/error.h"
#include "data/file_io.h"

namespace bnlab {

void append_cifar_file(const std::filesystem::path& path, CifarLabels labels, Dataset& data) {
    constexpr size_t kImageBytes = 3 * 32 * 32;
    const size_t label_bytes = labels == CifarLabels::cifar10 ? 1 : 2;
    const size_t label_offset = labels == CifarLabels::cifar100_fine ? 1 : 0;
    const size_t record_bytes = label_bytes + kImageBytes;
    const std::vector<uint8_t> bytes = read_file_bytes(path);
    const std::string name = path.string();
    if (bytes.empty()) throw Error(name + ": empty file, expected records of " + std::to_string(record_bytes) + " bytes");
    if (bytes.size() % record_bytes != 0)
        throw Error(name + ": truncated or not a CIFAR file: " + std::to_string(bytes.size()) +
                    " bytes is not a whole number of " + std::to_string(record_bytes) + "-byte records");
    data.channels = 3;
    data.height = 32;
    data.width = 32;
    const size_t records = bytes.size() / record_bytes;
    const auto classes = static_cast<int32_t>(data.class_names.size());
    const size_t first_pixel = data.pixels.size();
    data.pixels.resize(first_pixel + records * kImageBytes);
    data.labels.reserve(data.labels.size() + records);
    for (size_t r = 0; r < records; ++r) {
        const uint8_t* record = bytes.data() + r * record_bytes;
        const int32_t label = record[label_offset];
        if (label >= classes)
            throw Error(name + ": record " + std::to_string(r) + " has label " + std::to_string(label) +
                        ", out of range [0, " + std::to_string(classes) + ")");
        data.labels.push_back(label);
        std::memcpy(data.pixels.data() + first_pixel + r * kImageBytes, record + label_bytes, kImageBytes);
    }
    data.files.push_back(name);
}

}  // namespace bnlab
