// Decoding image files, hostile ones included. bnlab reads PNG, JPEG, BMP and binary PGM/PPM
// (P5/P6) and nothing else: the format is taken from the first bytes (the magic), never from
// the file name, and stb_image is compiled with only those four decoders, so a Radiance HDR,
// GIF, PSD or TGA named x.png is refused before any decoder sees it. Before decoding:
//   - the dimensions (stbi_info, or bnlab's own PGM/PPM header parse) must be positive and
//     within kMaxImageSide per side and kMaxImagePixels in all;
//   - PGM/PPM headers are parsed here (stb_image overflows on long numbers), only 8-bit ones
//     are taken (stb_image mishandles 16-bit ones), and the pixel data must be all there;
//   - a BMP's pixel rows must all be in the file, and a JPEG must have at least one byte per
//     2048 pixels (stb_image reads missing bytes as zeros, and decoding them takes time);
//   - every JPEG Huffman table must hold at most 256 symbols (stb_image writes past its
//     table otherwise).
// While decoding every buffer stb_image allocates is zero-filled and capped in size, and a
// palette PNG's palette is padded to 256 black entries, so out-of-range palette indices decode
// to black, the same every run, rather than to whatever memory held.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace bnlab {

inline constexpr int64_t kMaxImageSide = 16384;          // pixels, width or height
inline constexpr int64_t kMaxImagePixels = int64_t{1} << 26;  // width x height (64 Mpixel)
inline constexpr int64_t kMaxImageFileBytes = int64_t{256} << 20;

struct ImageInfo {
    const char* format = "";  // "PNG", "JPEG", "BMP", "PGM/PPM"
    int width = 0, height = 0;
    int channels = 0;  // in the file: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA
};

// The format and size of an encoded image; Error "NAME: ..." when the magic is not one of
// the four formats, the header is unreadable, or the size is zero or over the limits.
ImageInfo probe_image(std::span<const uint8_t> bytes, const std::string& name);

// Decodes to interleaved (height, width, channels) bytes, channels 1 or 3 (stb_image's
// conversion: grey -> RGB repeats the value, RGB -> grey is (77 R + 150 G + 29 B) / 256).
// probe_image's checks run first. Error naming `name` on any failure.
std::vector<uint8_t> decode_image_hwc(std::span<const uint8_t> bytes, const std::string& name, int channels,
                                      ImageInfo* info = nullptr);

// The bytes of an image file: only regular files, at most kMaxImageFileBytes.
std::vector<uint8_t> read_image_file(const std::filesystem::path& path);

}  // namespace bnlab
