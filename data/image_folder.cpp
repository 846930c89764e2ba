// The one translation unit that compiles stb_image_resize (stb_image: data/image_decode.cpp).
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include "data/image_folder.h"

#include <stb/stb_image_resize.h>

#include <algorithm>
#include <memory>
#include <string>

#include "core/error.h"
#include "core/memory_budget.h"
#include "data/image_decode.h"

namespace bnlab {

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> sorted_entries(const fs::path& dir, bool want_directories) {
    std::vector<fs::path> entries;
    for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
        if (want_directories ? entry.is_directory() : (entry.is_regular_file() && is_image_file(entry.path())))
            entries.push_back(entry.path());
    }
    std::sort(entries.begin(), entries.end());
    return entries;
}

// Fills in the channels and size that `format` leaves to the first image, and checks them.
ImageFormat resolve_format(const fs::path& first_image, ImageFormat format) {
    const ImageInfo info = probe_image(read_image_file(first_image), first_image.string());
    if (format.channels == 0) format.channels = info.channels <= 2 ? 1 : 3;
    if (format.height == 0) format.height = info.height;
    if (format.width == 0) format.width = info.width;
    return format;
}

void check_format(const ImageFormat& format, const std::string& where) {
    if (format.channels != 1 && format.channels != 3)
        throw Error(where + ": images are read as 1 or 3 channels, not " + std::to_string(format.channels));
    if (format.height <= 0 || format.width <= 0 || format.height > kMaxImageSide || format.width > kMaxImageSide ||
        format.height * format.width > kMaxImagePixels)
        throw Error(where + ": bad target size " + std::to_string(format.height) + "x" + std::to_string(format.width) +
                    " (each side in [1, " + std::to_string(kMaxImageSide) + "], at most " +
                    std::to_string(kMaxImagePixels) + " pixels)");
}

}  // namespace

bool is_image_file(const fs::path& path) {
    std::string extension = path.extension().string();
    for (char& ch : extension) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return extension == ".png" || extension == ".jpg" || extension == ".jpeg" || extension == ".bmp" ||
           extension == ".pgm" || extension == ".ppm";
}

std::vector<uint8_t> read_image(const fs::path& path, const ImageFormat& format) {
    check_format(format, path.string());
    // Decode to interleaved (H, W, channels) bytes, converted to format.channels by stb_image.
    const int channels = static_cast<int>(format.channels);
    ImageInfo info;
    const std::vector<uint8_t> decoded = decode_image_hwc(read_image_file(path), path.string(), channels, &info);
    const int width = info.width, height = info.height;
    const auto out_height = static_cast<int>(format.height), out_width = static_cast<int>(format.width);
    std::vector<uint8_t> resized;
    const uint8_t* hwc = decoded.data();
    if (width != out_width || height != out_height) {
        resized.resize(static_cast<size_t>(out_height * out_width * channels));
        if (!stbir_resize_uint8(decoded.data(), width, height, 0, resized.data(), out_width, out_height, 0, channels))
            throw Error(path.string() + ": cannot resize " + std::to_string(width) + "x" + std::to_string(height) +
                        " to " + std::to_string(out_width) + "x" + std::to_string(out_height));
        hwc = resized.data();
    }
    // (H, W, C) -> (C, H, W)
    const size_t plane = static_cast<size_t>(out_height * out_width);
    std::vector<uint8_t> chw(plane * static_cast<size_t>(channels));
    for (size_t c = 0; c < static_cast<size_t>(channels); ++c)
        for (size_t k = 0; k < plane; ++k) chw[c * plane + k] = hwc[k * static_cast<size_t>(channels) + c];
    return chw;
}

Dataset read_image_folder(const fs::path& root, ImageFormat format) {
    if (!fs::is_directory(root)) throw Error(root.string() + ": not a folder of class folders");
    const std::vector<fs::path> class_dirs = sorted_entries(root, true);
    if (class_dirs.empty())
        throw Error(root.string() + ": no class folders (expected " + root.string() + "/<class>/<image>.png)");
    // Every image is listed and the whole set is checked against the memory budget before
    // one is decoded: a huge first image sets a huge size for all of them.
    std::vector<std::vector<fs::path>> images_by_class;
    int64_t image_count = 0;
    for (const fs::path& class_dir : class_dirs) {
        images_by_class.push_back(sorted_entries(class_dir, false));
        if (images_by_class.back().empty())
            throw Error(class_dir.string() + ": class folder has no .png/.jpg/.bmp/.pgm/.ppm images");
        image_count += static_cast<int64_t>(images_by_class.back().size());
    }
    format = resolve_format(images_by_class.front().front(), format);
    check_format(format, images_by_class.front().front().string());
    const std::string what = root.string() + ": " + std::to_string(image_count) + " images of " +
                             std::to_string(format.channels) + "x" + std::to_string(format.height) + "x" +
                             std::to_string(format.width);
    check_memory_budget(checked_product({image_count, format.channels, format.height, format.width}, what), what);
    Dataset data;
    for (size_t k = 0; k < class_dirs.size(); ++k) {
        const auto label = static_cast<int32_t>(k);
        data.class_names.push_back(class_dirs[k].filename().string());
        for (const fs::path& image : images_by_class[k]) {
            const std::vector<uint8_t> chw = read_image(image, format);
            data.pixels.insert(data.pixels.end(), chw.begin(), chw.end());
            data.labels.push_back(label);
        }
    }
    data.channels = format.channels;
    data.height = format.height;
    data.width = format.width;
    data.files = {root.string()};
    const PixelStats stats = pixel_stats(data);
    for (int64_t c = 0; c < data.channels; ++c) {
        data.mean.push_back(static_cast<float>(stats.mean[static_cast<size_t>(c)]));
        // A constant channel (e.g. a blank test image) has std 0; normalize by 1 instead.
        const double std = stats.std[static_cast<size_t>(c)];
        data.std.push_back(std > 1e-6 ? static_cast<float>(std) : 1.0f);
    }
    return data;
}

}  // namespace bnlab
