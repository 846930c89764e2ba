// A small synthetic data set for tests that train (learnable in a few hundred steps, no files),
// and a training config that fits it.
#pragma once

#include <cstdint>
#include <string>

#include "core/random.h"
#include "data/dataset.h"
#include "train/config.h"

namespace bnlab::test {

// 4 classes of 1x8x8 images: class k is bright in quadrant k, plus uniform noise.
inline Dataset quadrants(int64_t count, uint64_t seed) {
    Dataset d;
    d.name = "quadrants";
    d.channels = 1;
    d.height = d.width = 8;
    d.class_names = {"top-left", "top-right", "bottom-left", "bottom-right"};
    d.mean = {0.3f};
    d.std = {0.3f};
    Generator gen(seed);
    for (int64_t i = 0; i < count; ++i) {
        const auto k = static_cast<int32_t>(gen.below(4));
        d.labels.push_back(k);
        for (int64_t h = 0; h < 8; ++h)
            for (int64_t w = 0; w < 8; ++w) {
                const bool lit = (h < 4) == (k < 2) && (w < 4) == (k % 2 == 0);
                d.pixels.push_back(static_cast<uint8_t>(gen.uniform(0, 120) + (lit ? 100 : 0)));
            }
    }
    return d;
}

// A short run on quadrants: batch 32, 2 epochs, SGD lr 0.05 (momentum 0.9), seed 7, 2 threads.
inline TrainConfig small_config(const std::string& arch, const std::string& norm) {
    TrainConfig c;
    c.dataset = "quadrants";
    c.model.arch = arch;
    c.model.norm = norm;
    c.batch_size = 32;
    c.epochs = 2;
    c.lr = 0.05;
    c.eval_every = 8;
    c.threads = 2;
    c.seed = 7;
    return c;
}

}  // namespace bnlab::test
