// Image folders: root/<class name>/<image>.png|jpg|jpeg|bmp (extensions in any case).
// Classes are the sub-folder names in sorted order (label k = k-th name); images within a
// class are taken in sorted file-name order, so the same folder always gives the same set.
// Every image is decoded by stb_image, converted to `channels` (1 = grey, 3 = RGB) and
// resized to height x width (stb_image_resize) when its size differs, then stored NCHW.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "data/dataset.h"

namespace bnlab {

struct ImageFormat {
    int64_t channels = 0;  // 1 or 3; 0: 1 if the first image is grey, else 3
    int64_t height = 0;    // 0: the first image's size
    int64_t width = 0;
};

// Throws Error naming the folder when it has no class folders or a class has no images,
// and naming the image's path (with stb_image's reason) when an image cannot be decoded.
// mean/std are set to the statistics of the images read.
Dataset read_image_folder(const std::filesystem::path& root, ImageFormat format = {});

// One image file (PNG/JPG/BMP) in `format`'s layout: decoded by stb_image, converted to
// format.channels (grey <-> RGB; RGB -> grey is stb_image's luma (77 R + 150 G + 29 B) / 256),
// resized to format.height x format.width when its size differs -> (C, H, W) bytes.
// `format` must be complete (channels 1 or 3, positive size). Throws Error naming the path,
// with stb_image's reason, when the file is missing or cannot be decoded.
std::vector<uint8_t> read_image(const std::filesystem::path& path, const ImageFormat& format);

// Whether `path` has an extension read_image_folder takes.
bool is_image_file(const std::filesystem::path& path);

}  // namespace bnlab
