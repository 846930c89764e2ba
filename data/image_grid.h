// A PNG contact sheet of samples, each image with its class name underneath, so a person
// can look at what a data set holds (`bnlab data show`).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>

#include "data/dataset.h"

namespace bnlab {

// Writes images `indices` of `data` in rows of `columns`, each enlarged `zoom` times
// (nearest neighbour) above its label's class name (stb_easy_font, white on dark grey).
// Written atomically (core/atomic_file.h). Throws Error naming the path on failure, a
// full disk included, and before allocating a canvas larger than the memory budget.
void write_image_grid(const Dataset& data, std::span<const int64_t> indices, int64_t columns, int64_t zoom,
                      const std::filesystem::path& png_path);

// The check write_image_grid makes before it allocates, on its own, so a caller can refuse
// a grid of `count` images of `data` before any work: throws Error naming png_path when
// the canvas overflows, exceeds the memory budget or is larger than a PNG can hold.
void check_image_grid(const Dataset& data, int64_t count, int64_t columns, int64_t zoom,
                      const std::filesystem::path& png_path);

}  // namespace bnlab
