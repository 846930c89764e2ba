// The one translation unit that compiles stb_image and stb_image_resize.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include "data/image_folder.h"

#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>

#include <algorithm>
#include <memory>
#include <string>

#include "core/error.h"

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

struct FreeImage {
    void operator()(unsigned char* p) const { stbi_image_free(p); }
};

// Fills in the channels and size that `format` leaves to the first image.
ImageFormat resolve_format(const fs::path& first_image, ImageFormat format) {
    int width = 0, height = 0, channels_in_file = 0;
    if (!stbi_info(first_image.c_str(), &width, &height, &channels_in_file))
        throw Error(first_image.string() + ": cannot read image: " + stbi_failure_reason());
    if (format.channels == 0) format.channels = channels_in_file <= 2 ? 1 : 3;
    if (format.height == 0) format.height = height;
    if (format.width == 0) format.width = width;
    if (format.channels != 1 && format.channels != 3)
        throw Error("image folder: channels must be 1 or 3, got " + std::to_string(format.channels));
    return format;
}

}  // namespace

bool is_image_file(const fs::path& path) {
    std::string extension = path.extension().string();
    for (char& ch : extension) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return extension == ".png" || extension == ".jpg" || extension == ".jpeg" || extension == ".bmp";
}

std::vector<uint8_t> read_image(const fs::path& path, const ImageFormat& format) {
    if (format.channels != 1 && format.channels != 3)
        throw Error(path.string() + ": images are read as 1 or 3 channels, not " + std::to_string(format.channels));
    if (format.height <= 0 || format.width <= 0)
        throw Error(path.string() + ": bad target size " + std::to_string(format.height) + "x" +
                    std::to_string(format.width));
    if (!fs::is_regular_file(path))
        throw Error(path.string() + ": cannot read image: " + (fs::exists(path) ? "not a file" : "no such file"));
    // Decode to interleaved (H, W, channels) bytes, converted to format.channels by stb_image.
    int width = 0, height = 0, channels_in_file = 0;
    const int channels = static_cast<int>(format.channels);
    std::unique_ptr<unsigned char, FreeImage> decoded(
        stbi_load(path.c_str(), &width, &height, &channels_in_file, channels));
    if (!decoded) throw Error(path.string() + ": cannot read image: " + stbi_failure_reason());
    const auto out_height = static_cast<int>(format.height), out_width = static_cast<int>(format.width);
    std::vector<uint8_t> resized;
    const uint8_t* hwc = decoded.get();
    if (width != out_width || height != out_height) {
        resized.resize(static_cast<size_t>(out_height * out_width * channels));
        if (!stbir_resize_uint8(decoded.get(), width, height, 0, resized.data(), out_width, out_height, 0, channels))
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
    Dataset data;
    for (const fs::path& class_dir : class_dirs) {
        const std::vector<fs::path> images = sorted_entries(class_dir, false);
        if (images.empty()) throw Error(class_dir.string() + ": class folder has no .png/.jpg/.bmp images");
        if (data.class_names.empty()) format = resolve_format(images.front(), format);
        const auto label = static_cast<int32_t>(data.class_names.size());
        data.class_names.push_back(class_dir.filename().string());
        for (const fs::path& image : images) {
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
