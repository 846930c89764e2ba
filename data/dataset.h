// Dataset: a labelled image set held in memory as uint8 pixels, the way the files store them.
//
// pixels: (N, C, H, W) row-major, one byte per value in [0, 255]; labels: N class indices in
// [0, class_names.size()). mean/std: the per-channel statistics of pixel/255 that the loader
// normalizes with, (x/255 - mean[c]) / std[c].
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace bnlab {

struct Dataset {
    std::string name;  // e.g. "fashion-mnist/train"
    int64_t channels = 0, height = 0, width = 0;
    std::vector<uint8_t> pixels;  // N*C*H*W, NCHW
    std::vector<int32_t> labels;  // N
    std::vector<std::string> class_names;
    std::vector<float> mean, std;     // per channel, of pixel/255
    std::vector<std::string> files;   // the files it was read from, for messages

    int64_t size() const { return static_cast<int64_t>(labels.size()); }
    int64_t image_size() const { return channels * height * width; }  // bytes per image
    std::span<const uint8_t> image(int64_t i) const {
        return {pixels.data() + i * image_size(), static_cast<size_t>(image_size())};
    }
};

// Throws Error (naming `source`) unless the dataset is consistent: shape set, pixel count
// = N*C*H*W, every label in [0, classes), mean/std one positive value per channel.
void check_consistent(const Dataset& data, const std::string& source);

// The samples [begin, end) of `data` as a data set of their own (same classes and
// normalization), named `name`. Used to hold out a validation split from a training set.
Dataset subset(const Dataset& data, int64_t begin, int64_t end, const std::string& name);

// How many samples carry each label: counts[k] for k in [0, class_names.size()).
std::vector<int64_t> class_histogram(const Dataset& data);

// Per-channel mean and (population) standard deviation of pixel/255 over the whole set.
struct PixelStats {
    std::vector<double> mean, std;
};
PixelStats pixel_stats(const Dataset& data);

// The standard normalization constants, per channel, of pixel/255 over the training split:
// computed once from the official training files (tests/test_data_real.cpp recomputes them).
// Fashion-MNIST 0.2860/0.3530, MNIST 0.1307/0.3081, KMNIST 0.1918/0.3483,
// CIFAR-10 (0.4914,0.4822,0.4465)/(0.2470,0.2435,0.2616), CIFAR-100 (0.5071,0.4865,0.4409)/(0.2673,0.2564,0.2762).
// (These are the values torchvision users quote; the population std, not the per-image average std.)

}  // namespace bnlab
