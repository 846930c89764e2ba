#include "data/dataset.h"

#include <cmath>

#include "core/error.h"

namespace bnlab {

void check_consistent(const Dataset& data, const std::string& source) {
    if (data.channels <= 0 || data.height <= 0 || data.width <= 0)
        throw Error(source + ": image shape " + std::to_string(data.channels) + "x" + std::to_string(data.height) +
                    "x" + std::to_string(data.width) + " is not positive");
    const auto expected = static_cast<size_t>(data.size() * data.image_size());
    if (data.pixels.size() != expected)
        throw Error(source + ": " + std::to_string(data.pixels.size()) + " pixel bytes for " +
                    std::to_string(data.size()) + " labels of " + std::to_string(data.image_size()) +
                    " bytes each (expected " + std::to_string(expected) + ")");
    const auto classes = static_cast<int64_t>(data.class_names.size());
    for (int64_t i = 0; i < data.size(); ++i) {
        const int32_t label = data.labels[static_cast<size_t>(i)];
        if (label < 0 || label >= classes)
            throw Error(source + ": label " + std::to_string(label) + " of sample " + std::to_string(i) +
                        " is out of range [0, " + std::to_string(classes) + ")");
    }
    if (static_cast<int64_t>(data.mean.size()) != data.channels ||
        static_cast<int64_t>(data.std.size()) != data.channels)
        throw Error(source + ": mean/std need one value per channel (" + std::to_string(data.channels) + ")");
    for (float s : data.std)
        if (!(s > 0.0f)) throw Error(source + ": a channel's std is " + std::to_string(s) + ", not positive");
}

Dataset subset(const Dataset& data, int64_t begin, int64_t end, const std::string& name) {
    if (begin < 0 || end < begin || end > data.size())
        throw Error(data.name + ": subset [" + std::to_string(begin) + ", " + std::to_string(end) + ") outside its " +
                    std::to_string(data.size()) + " samples");
    Dataset out;
    out.name = name;
    out.channels = data.channels;
    out.height = data.height;
    out.width = data.width;
    out.class_names = data.class_names;
    out.mean = data.mean;
    out.std = data.std;
    out.files = data.files;
    out.pixels.assign(data.pixels.begin() + begin * data.image_size(), data.pixels.begin() + end * data.image_size());
    out.labels.assign(data.labels.begin() + begin, data.labels.begin() + end);
    return out;
}

std::vector<int64_t> class_histogram(const Dataset& data) {
    std::vector<int64_t> counts(data.class_names.size(), 0);
    for (int32_t label : data.labels) ++counts[static_cast<size_t>(label)];
    return counts;
}

PixelStats pixel_stats(const Dataset& data) {
    // Sums of integers are exact in int64, so the result does not depend on summation order.
    const auto channels = static_cast<size_t>(data.channels);
    const int64_t plane = data.height * data.width;
    std::vector<int64_t> sum(channels, 0), sum_squares(channels, 0);
    for (int64_t i = 0; i < data.size(); ++i) {
        const uint8_t* image = data.image(i).data();
        for (size_t c = 0; c < channels; ++c) {
            const uint8_t* p = image + static_cast<int64_t>(c) * plane;
            int64_t s = 0, s2 = 0;
            for (int64_t k = 0; k < plane; ++k) {
                s += p[k];
                s2 += p[k] * p[k];
            }
            sum[c] += s;
            sum_squares[c] += s2;
        }
    }
    PixelStats stats;
    const double count = static_cast<double>(data.size() * plane);
    for (size_t c = 0; c < channels; ++c) {
        const double mean = static_cast<double>(sum[c]) / count / 255.0;
        const double mean_sq = static_cast<double>(sum_squares[c]) / count / (255.0 * 255.0);
        stats.mean.push_back(mean);
        stats.std.push_back(std::sqrt(std::max(0.0, mean_sq - mean * mean)));
    }
    return stats;
}

}  // namespace bnlab
