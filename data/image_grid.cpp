// The one translation unit that compiles stb_image_write.
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include "data/image_grid.h"

#include <stb/stb_easy_font.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/memory_budget.h"

namespace bnlab {

namespace {

constexpr int64_t kMargin = 4;       // pixels between cells
constexpr int64_t kLabelHeight = 12; // text strip under each image
constexpr uint8_t kBackground = 40;

// An RGB canvas, (height, width, 3) bytes.
struct Canvas {
    int64_t width, height;
    std::vector<uint8_t> rgb;
    void fill_rect(int64_t x0, int64_t y0, int64_t x1, int64_t y1, uint8_t value) {
        for (int64_t y = std::max<int64_t>(y0, 0); y < std::min(y1, height); ++y)
            for (int64_t x = std::max<int64_t>(x0, 0); x < std::min(x1, width); ++x)
                for (int64_t c = 0; c < 3; ++c) rgb[static_cast<size_t>((y * width + x) * 3 + c)] = value;
    }
};

// stb_easy_font lays text out as axis-aligned quads (4 vertices of 16 bytes: x, y, z floats,
// then RGBA); each quad is filled as a rectangle, clipped to the cell's width.
void draw_text(Canvas& canvas, const std::string& text, int64_t x, int64_t y, int64_t max_width) {
    std::vector<char> chars(text.begin(), text.end());
    chars.push_back('\0');
    std::vector<float> vertices(static_cast<size_t>(text.size() + 1) * 64 * 4 * 4);  // room for 64 quads a char
    const int quads = stb_easy_font_print(static_cast<float>(x), static_cast<float>(y), chars.data(), nullptr,
                                          vertices.data(), static_cast<int>(vertices.size() * sizeof(float)));
    for (int q = 0; q < quads; ++q) {
        const float* v = vertices.data() + q * 16;  // 4 vertices of 4 floats
        const auto x0 = static_cast<int64_t>(std::min(v[0], v[8])), x1 = static_cast<int64_t>(std::max(v[0], v[8]));
        const auto y0 = static_cast<int64_t>(std::min(v[1], v[9])), y1 = static_cast<int64_t>(std::max(v[1], v[9]));
        canvas.fill_rect(x0, y0, std::min(x1, x + max_width), y1, 255);
    }
}

// The cells and the canvas of a grid of `count` images: (rows, columns) cells of
// (height * zoom + label) x (width * zoom) pixels with margins between them, checked.
struct GridLayout {
    int64_t cell_width, cell_height, canvas_width, canvas_height;
};

GridLayout grid_layout(const Dataset& data, int64_t count, int64_t columns, int64_t zoom,
                       const std::filesystem::path& png_path) {
    if (count <= 0 || columns <= 0 || zoom <= 0)
        throw Error(png_path.string() + ": a grid needs at least one image, columns > 0 and zoom > 0");
    const std::string what = png_path.string() + ": the grid canvas";
    GridLayout g{};
    g.cell_width = checked_product({data.width, zoom}, what);
    g.cell_height = checked_product({data.height, zoom}, what) + kLabelHeight;
    const int64_t rows = count / columns + (count % columns != 0), used_columns = std::min(columns, count);
    g.canvas_width = kMargin + checked_product({used_columns, g.cell_width + kMargin}, what);
    g.canvas_height = kMargin + checked_product({rows, g.cell_height + kMargin}, what);
    check_memory_budget(checked_product({g.canvas_width, g.canvas_height, 3}, what), what);
    if (g.canvas_width * 3 > INT32_MAX || g.canvas_height > INT32_MAX)
        throw Error(what + ": " + std::to_string(g.canvas_width) + "x" + std::to_string(g.canvas_height) +
                    " pixels is more than a PNG writer takes");
    return g;
}

}  // namespace

void check_image_grid(const Dataset& data, int64_t count, int64_t columns, int64_t zoom,
                      const std::filesystem::path& png_path) {
    grid_layout(data, count, columns, zoom, png_path);
}

void write_image_grid(const Dataset& data, std::span<const int64_t> indices, int64_t columns, int64_t zoom,
                      const std::filesystem::path& png_path) {
    const int64_t count = static_cast<int64_t>(indices.size());
    const GridLayout layout = grid_layout(data, count, columns, zoom, png_path);
    const int64_t cell_width = layout.cell_width, cell_height = layout.cell_height;
    Canvas canvas{layout.canvas_width, layout.canvas_height, {}};
    canvas.rgb.assign(static_cast<size_t>(canvas.width * canvas.height * 3), kBackground);
    const int64_t plane = data.height * data.width;
    for (int64_t n = 0; n < count; ++n) {
        const int64_t sample = indices[static_cast<size_t>(n)];
        if (sample < 0 || sample >= data.size())
            throw Error(png_path.string() + ": sample " + std::to_string(sample) + " is not in " + data.name);
        const int64_t left = kMargin + (n % columns) * (cell_width + kMargin);
        const int64_t top = kMargin + (n / columns) * (cell_height + kMargin);
        const uint8_t* image = data.image(sample).data();
        for (int64_t y = 0; y < data.height * zoom; ++y)
            for (int64_t x = 0; x < cell_width; ++x)
                for (int64_t c = 0; c < 3; ++c) {
                    const int64_t channel = data.channels == 1 ? 0 : c;  // grey images: the same value in R, G, B
                    const uint8_t value = image[channel * plane + (y / zoom) * data.width + x / zoom];
                    canvas.rgb[static_cast<size_t>(((top + y) * canvas.width + left + x) * 3 + c)] = value;
                }
        const std::string& label = data.class_names[static_cast<size_t>(data.labels[static_cast<size_t>(sample)])];
        draw_text(canvas, label, left + 1, top + data.height * zoom + 2, cell_width - 1);
    }
    // stb_image_write encodes into the atomic writer's stream; a failed write is an Error.
    const auto to_stream = [](void* context, void* bytes, int size) {
        static_cast<std::ostream*>(context)->write(static_cast<const char*>(bytes), size);
    };
    write_atomically(png_path.string(), [&](std::ostream& out) {
        if (!stbi_write_png_to_func(to_stream, &out, static_cast<int>(canvas.width), static_cast<int>(canvas.height), 3,
                                    canvas.rgb.data(), static_cast<int>(canvas.width * 3)))
            throw Error(png_path.string() + ": cannot encode the PNG");
    });
}

}  // namespace bnlab
