// The one translation unit that compiles stb_image, with only the decoders bnlab takes and
// with bnlab's allocator (zero-filled, capped).
#include "data/image_decode.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

#include "core/error.h"
#include "core/regular_file.h"

namespace {

// The largest single buffer stb_image may ask for: the decoded image at 16 bits and
// 4 channels, with room for row filters and JPEG block padding. Anything larger is a
// corrupt or hostile file (a deflate bomb inside a small PNG) and fails as "outofmem".
constexpr size_t kMaxDecoderAllocation = static_cast<size_t>(bnlab::kMaxImagePixels) * 8 + (size_t{64} << 20);

void* decoder_malloc(size_t size) { return size > kMaxDecoderAllocation ? nullptr : std::calloc(1, size); }
void* decoder_realloc(void* p, size_t size) { return size > kMaxDecoderAllocation ? nullptr : std::realloc(p, size); }

}  // namespace

#define STBI_MALLOC(size) decoder_malloc(size)
#define STBI_REALLOC(p, size) decoder_realloc(p, size)
#define STBI_FREE(p) std::free(p)
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_ONLY_PNM
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>

namespace bnlab {

namespace {

[[noreturn]] void refuse(const std::string& name, const std::string& problem) {
    throw Error(name + ": cannot read image: " + problem);
}

bool starts_with(std::span<const uint8_t> bytes, std::initializer_list<uint8_t> magic) {
    return bytes.size() >= magic.size() && std::equal(magic.begin(), magic.end(), bytes.begin());
}

// PGM/PPM header "P5|P6 <ws> width <ws> height <ws> maxval <one ws>" where <ws> may hold
// '#' comments to the end of the line. Numbers longer than 9 digits are refused.
ImageInfo probe_pnm(std::span<const uint8_t> bytes, const std::string& name) {
    size_t pos = 2;
    const auto fail = [&](const std::string& problem) -> void { refuse(name, "bad PGM/PPM header: " + problem); };
    const auto is_space = [](uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; };
    const auto skip_space = [&] {
        if (pos >= bytes.size() || (!is_space(bytes[pos]) && bytes[pos] != '#')) fail("expected white space at byte " + std::to_string(pos));
        while (pos < bytes.size() && (is_space(bytes[pos]) || bytes[pos] == '#')) {
            if (bytes[pos] == '#')
                while (pos < bytes.size() && bytes[pos] != '\n' && bytes[pos] != '\r') ++pos;
            else ++pos;
        }
    };
    const auto number = [&](const char* what) {
        int64_t value = 0;
        size_t digits = 0;
        for (; pos < bytes.size() && bytes[pos] >= '0' && bytes[pos] <= '9'; ++pos, ++digits) {
            if (digits == 9) fail(std::string(what) + " has more than 9 digits");
            value = value * 10 + (bytes[pos] - '0');
        }
        if (digits == 0) fail(std::string("no ") + what);
        return value;
    };
    skip_space();
    const int64_t width = number("width");
    skip_space();
    const int64_t height = number("height");
    skip_space();
    const int64_t maxval = number("maximum value");
    if (pos >= bytes.size() || !is_space(bytes[pos])) fail("no white space after the maximum value");
    ++pos;
    // 16-bit files (maximum value > 255) are refused: stb_image 2.27 converts their channels as
    // if they were 8-bit and then reads past the buffer.
    if (maxval < 1 || maxval > 255) fail("maximum value " + std::to_string(maxval) + " is not in [1, 255] (8-bit)");
    const int channels = bytes[1] == '6' ? 3 : 1;
    if (width > 0 && height > 0 && width <= kMaxImageSide && height <= kMaxImageSide) {
        const auto data_bytes = static_cast<size_t>(width * height * channels);
        if (bytes.size() - pos < data_bytes)
            refuse(name, "truncated PGM/PPM: " + std::to_string(bytes.size() - pos) + " pixel bytes of " +
                        std::to_string(data_bytes));
    }
    return {"PGM/PPM", static_cast<int>(std::min<int64_t>(width, INT32_MAX)),
            static_cast<int>(std::min<int64_t>(height, INT32_MAX)), channels};
}

// Calls visit(pos, length, type) for each whole chunk of a PNG after its signature (a chunk:
// length, 4 bytes big-endian; type, 4; data; CRC, 4) until visit returns false or a chunk is
// truncated (stb_image reports that).
template <class Visit>
void for_each_png_chunk(std::span<const uint8_t> png, Visit&& visit) {
    for (size_t pos = 8; pos + 12 <= png.size();) {
        const uint32_t length = (uint32_t{png[pos]} << 24) | (uint32_t{png[pos + 1]} << 16) |
                                (uint32_t{png[pos + 2]} << 8) | uint32_t{png[pos + 3]};
        if (length > png.size() - pos - 12) return;
        if (!visit(pos, length, std::string_view(reinterpret_cast<const char*>(&png[pos + 4]), 4))) return;
        pos += 12 + length;
    }
}

// A copy of a palette PNG whose PLTE chunk is padded to 256 entries of black. stb_image
// keeps the palette in an uninitialised stack array, so an index past the file's palette
// would otherwise read garbage. stb_image does not check chunk CRCs, so the padded
// chunk's stale CRC is harmless.
std::vector<uint8_t> pad_png_palette(std::span<const uint8_t> png) {
    std::vector<uint8_t> padded(png.begin(), png.end());
    for_each_png_chunk(png, [&](size_t pos, uint32_t length, std::string_view type) {
        if (type == "IDAT") return false;
        if (type != "PLTE") return true;
        if (length < 768 && length % 3 == 0) {
            padded.insert(padded.begin() + static_cast<std::ptrdiff_t>(pos + 8 + length), 768 - length, uint8_t{0});
            padded[pos] = 0, padded[pos + 1] = 0, padded[pos + 2] = 768 >> 8, padded[pos + 3] = 768 & 0xff;
        }
        return false;
    });
    return padded;
}

// stb_image copies each IDAT chunk onto a buffer it allocates at the first non-empty one: an
// empty first IDAT is a memcpy of 0 bytes to a null pointer (undefined behaviour; found by
// fuzz_image). Such a file is refused.
void check_png_first_idat(std::span<const uint8_t> png, const std::string& name) {
    for_each_png_chunk(png, [&](size_t, uint32_t length, std::string_view type) {
        if (type != "IDAT") return true;
        if (length == 0) refuse(name, "PNG whose first IDAT chunk is empty: not decoded");
        return false;
    });
}

// stb_image 2.27 writes past its Huffman size table when a DHT segment's 16 code counts
// add up to more than 256 (the JPEG limit: one byte per symbol). Every DHT segment in the
// file is checked first; entropy-coded data after SOS is skipped to the next real marker
// (0xFF followed by neither 0x00, a stuffed byte, nor RST0-7).
void check_jpeg_huffman_tables(std::span<const uint8_t> jpeg, const std::string& name) {
    size_t pos = 2;  // after SOI
    const auto be16 = [&](size_t at) { return static_cast<size_t>(jpeg[at] << 8 | jpeg[at + 1]); };
    while (pos + 1 < jpeg.size()) {
        if (jpeg[pos] != 0xff) {
            ++pos;
            continue;
        }
        const uint8_t marker = jpeg[pos + 1];
        pos += 2;
        if (marker == 0xff || marker == 0x00 || marker == 0x01 || marker == 0xd8 || (marker >= 0xd0 && marker <= 0xd7)) {
            pos -= marker == 0xff ? 1 : 0;  // fill bytes: look again from the second 0xFF
            continue;
        }
        if (marker == 0xd9 || pos + 2 > jpeg.size()) return;  // EOI, or cut short (stb reports it)
        const size_t end = std::min(pos + be16(pos), jpeg.size());
        if (marker == 0xc4) {
            // As stb_image reads it: tables while the segment length says bytes are left, each
            // 17 + symbols bytes, even past the segment's end (bytes past the file read as 0).
            const auto byte_at = [&](size_t at) -> size_t { return at < jpeg.size() ? jpeg[at] : 0; };
            for (size_t table = pos + 2, left = be16(pos) < 2 ? 0 : be16(pos) - 2; left > 0;) {
                size_t symbols = 0;
                for (size_t i = 1; i <= 16; ++i) symbols += byte_at(table + i);
                if (symbols > 256)
                    refuse(name, "corrupt JPEG: a Huffman table declares " + std::to_string(symbols) +
                                     " symbols, more than 256");
                table += 17 + symbols;
                left -= std::min(left, 17 + symbols);
            }
        }
        pos = end;
        if (marker == 0xda)  // entropy-coded data up to the next marker
            while (pos + 1 < jpeg.size() && !(jpeg[pos] == 0xff && jpeg[pos + 1] != 0x00 &&
                                              !(jpeg[pos + 1] >= 0xd0 && jpeg[pos + 1] <= 0xd7)))
                ++pos;
    }
}

// stb_image reads the bytes past the end of a BMP as zeros: a 57-byte file whose header says
// 7168x514 decoded to 3.7 million black pixels, slowly (fuzz_image's timeout). The rows the
// header declares must be in the file: from the pixel data offset, |height| rows of
// width x bits-per-pixel bits, each rounded up to 4 bytes.
void check_bmp_pixel_data(std::span<const uint8_t> bmp, const ImageInfo& info, const std::string& name) {
    const auto le = [&](size_t at, int bytes) {
        uint64_t v = 0;
        for (int i = bytes - 1; i >= 0; --i) v = v << 8 | (at + i < bmp.size() ? bmp[at + i] : 0);
        return v;
    };
    const uint64_t offset = le(10, 4), header_size = le(14, 4);
    const uint64_t bits = le(header_size == 12 ? 24 : 28, 2);  // OS/2 core header, or BITMAPINFOHEADER and later
    const uint64_t row_bytes = (static_cast<uint64_t>(info.width) * bits + 31) / 32 * 4;
    const uint64_t needed = offset + row_bytes * static_cast<uint64_t>(info.height);
    if (bmp.size() < needed)
        refuse(name, "truncated BMP: its header says " + std::to_string(info.width) + "x" + std::to_string(info.height) +
                         " pixels at " + std::to_string(bits) + " bits from byte " + std::to_string(offset) + ", " +
                         std::to_string(needed) + " bytes, but the file has " + std::to_string(bmp.size()));
}

// stb_image decodes every 8x8 block of a JPEG whether or not the file holds its data (missing
// entropy-coded bytes read as zeros): a 143-byte progressive JPEG declaring 12560x4096 took
// seconds (fuzz_image's second timeout). Every block costs the encoder at least one bit (its DC
// difference, in baseline and progressive files alike), so a real JPEG has at least one byte
// per 8 blocks of its first component, 512 pixels; a file with fewer than one byte per
// kMaxJpegPixelsPerByte pixels (4x that margin) cannot be a whole image.
constexpr int64_t kMaxJpegPixelsPerByte = 2048;

void check_jpeg_size(std::span<const uint8_t> jpeg, const ImageInfo& info, const std::string& name) {
    const int64_t pixels = int64_t{info.width} * info.height;
    if (pixels / kMaxJpegPixelsPerByte > static_cast<int64_t>(jpeg.size()))
        refuse(name, "JPEG of " + std::to_string(info.width) + "x" + std::to_string(info.height) + " pixels in only " +
                         std::to_string(jpeg.size()) + " bytes: too few to hold that many blocks (truncated or forged)");
}

struct FreeDecoded {
    void operator()(stbi_uc* p) const { stbi_image_free(p); }
};

int stb_length(std::span<const uint8_t> bytes, const std::string& name) {
    if (bytes.size() > static_cast<size_t>(kMaxImageFileBytes))
        refuse(name, std::to_string(bytes.size()) + " bytes is more than an image file may hold");
    return static_cast<int>(bytes.size());
}

}  // namespace

ImageInfo probe_image(std::span<const uint8_t> bytes, const std::string& name) {
    ImageInfo info;
    if (starts_with(bytes, {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'})) info.format = "PNG";
    else if (starts_with(bytes, {0xff, 0xd8, 0xff})) {
        info.format = "JPEG";
        check_jpeg_huffman_tables(bytes, name);
    }
    else if (starts_with(bytes, {'B', 'M'})) info.format = "BMP";
    else if (starts_with(bytes, {'P', '5'}) || starts_with(bytes, {'P', '6'})) info = probe_pnm(bytes, name);
    else
        refuse(name, "not a PNG, JPEG, BMP or binary PGM/PPM image (the first bytes say otherwise; "
                           "the file name is not trusted)");
    if (info.channels == 0 &&  // not parsed above: stb_image reads the header
        !stbi_info_from_memory(bytes.data(), stb_length(bytes, name), &info.width, &info.height, &info.channels))
        refuse(name, "cannot read the " + std::string(info.format) + " header: " + stbi_failure_reason());
    if (info.width <= 0 || info.height <= 0)
        refuse(name, std::string(info.format) + " image of " + std::to_string(info.width) + "x" +
                    std::to_string(info.height) + " pixels: an image needs at least one pixel");
    if (info.width > kMaxImageSide || info.height > kMaxImageSide ||
        int64_t{info.width} * info.height > kMaxImagePixels)
        refuse(name, std::string(info.format) + " image of " + std::to_string(info.width) + "x" +
                    std::to_string(info.height) + " pixels is over bnlab's limit (" + std::to_string(kMaxImageSide) +
                    " per side, " + std::to_string(kMaxImagePixels) + " pixels in all)");
    if (std::strcmp(info.format, "BMP") == 0) check_bmp_pixel_data(bytes, info, name);
    if (std::strcmp(info.format, "JPEG") == 0) check_jpeg_size(bytes, info, name);
    return info;
}

std::vector<uint8_t> decode_image_hwc(std::span<const uint8_t> bytes, const std::string& name, int channels,
                                      ImageInfo* info_out) {
    if (channels != 1 && channels != 3) throw Error(name + ": images are decoded to 1 or 3 channels, not " + std::to_string(channels));
    const ImageInfo info = probe_image(bytes, name);
    std::vector<uint8_t> padded;
    if (std::strcmp(info.format, "PNG") == 0) check_png_first_idat(bytes, name);
    if (std::strcmp(info.format, "PNG") == 0 && bytes.size() > 25 && bytes[25] == 3) {  // IHDR colour type 3: palette
        padded = pad_png_palette(bytes);
        bytes = padded;
    }
    int width = 0, height = 0, channels_in_file = 0;
    std::unique_ptr<stbi_uc, FreeDecoded> decoded(
        stbi_load_from_memory(bytes.data(), stb_length(bytes, name), &width, &height, &channels_in_file, channels));
    if (!decoded) refuse(name, "cannot decode the " + std::string(info.format) + " image: " + stbi_failure_reason());
    if (width != info.width || height != info.height)
        refuse(name, "the " + std::string(info.format) + " header says " + std::to_string(info.width) + "x" +
                    std::to_string(info.height) + " but the image decodes to " + std::to_string(width) + "x" +
                    std::to_string(height));
    if (info_out) *info_out = info;
    const auto* first = decoded.get();
    return std::vector<uint8_t>(first, first + static_cast<size_t>(width) * static_cast<size_t>(height) * channels);
}

std::vector<uint8_t> read_image_file(const std::filesystem::path& path) {
    return read_regular_file(path, kMaxImageFileBytes, "cannot read image");
}

}  // namespace bnlab
