// Issue 17, hostile and careless files: each case is the issue's reproducer (files under
// tests/fixtures/hostile/, written by make_hostile.py, or built here) and must end in a clean
// Error naming the file, quickly and without a large allocation.
#include <sys/resource.h>
#include <sys/stat.h>
#include <zlib.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/memory_budget.h"
#include "core/safetensors.h"
#include "data/cifar.h"
#include "data/file_io.h"
#include "data/idx.h"
#include "data/image_decode.h"
#include "data/image_folder.h"
#include "data/image_grid.h"
#include "data/loader.h"
#include "data_test_util.h"

using namespace bnlab;
using namespace bnlab::test;

namespace {

fs::path hostile(const std::string& name) { return fs::path(BNLAB_SOURCE_DIR) / "tests/fixtures/hostile" / name; }

// A gzip file of `header` followed by `zeros` zero bytes, compressed in memory chunk by chunk.
void write_gzip_bomb(const fs::path& path, const std::vector<uint8_t>& header, size_t zeros) {
    gzFile file = gzopen(path.c_str(), "wb9");
    REQUIRE(file != nullptr);
    gzwrite(file, header.data(), static_cast<unsigned>(header.size()));
    const std::vector<uint8_t> chunk(1 << 20, 0);
    for (size_t left = zeros; left > 0;) {
        const size_t n = std::min(left, chunk.size());
        gzwrite(file, chunk.data(), static_cast<unsigned>(n));
        left -= n;
    }
    gzclose(file);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The names in `dir` that are not in `expected` (leftover temporary files).
std::vector<std::string> extra_files(const fs::path& dir, const std::vector<std::string>& expected) {
    std::vector<std::string> extra;
    for (const auto& entry : fs::directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        if (std::find(expected.begin(), expected.end(), name) == expected.end()) extra.push_back(name);
    }
    return extra;
}

std::string read_text(const fs::path& path) {
    const std::vector<uint8_t> bytes = read_bytes(path);
    return {bytes.begin(), bytes.end()};
}

}  // namespace

TEST_CASE("checked sizes: products that overflow and allocations over the budget are errors", "[hostile][budget]") {
    CHECK(checked_product({2, 3, 4}, "x") == 24);
    CHECK(checked_product({int64_t{1} << 40, int64_t{1} << 40, 0}, "x") == 0);
    CHECK_THROWS_WITH(checked_product({int64_t{1} << 32, int64_t{1} << 32}, "f.bin: images"),
                      Catch::Contains("f.bin: images: 4294967296 x 4294967296 overflows 64 bits"));
    CHECK_THROWS_WITH(checked_product({2, -1}, "f"), Catch::Contains("negative size -1"));
    CHECK_NOTHROW(check_memory_budget(100, "f", 100));
    CHECK_THROWS_WITH(check_memory_budget(101, "f.bin: pixels", 100),
                      Catch::Contains("f.bin: pixels: needs 101 bytes, more than the memory budget of 100 bytes"));
    CHECK(memory_budget_bytes() > (int64_t{64} << 20));
    // Shape [2^32, 2^32]: 2^64 elements.
    CHECK_THROWS_AS(Shape({int64_t{1} << 32, int64_t{1} << 32}).numel(), ShapeError);
    CHECK(Shape({int64_t{1} << 32, int64_t{1} << 32, 0}).numel() == 0);
}

TEST_CASE("the loader's batch count does not overflow for a batch of INT64_MAX", "[hostile][loader]") {
    Dataset data;
    data.name = "tiny";
    data.channels = 1, data.height = 2, data.width = 2;
    data.pixels.assign(3 * 4, 7);
    data.labels = {0, 1, 0};
    data.class_names = {"a", "b"};
    data.mean = {0.5f};
    data.std = {0.25f};
    LoaderOptions options;
    options.batch_size = INT64_MAX;
    options.prefetch = false;
    CHECK(DataLoader(data, options).batches_per_epoch() == 1);
    options.drop_last = true;
    CHECK(DataLoader(data, options).batches_per_epoch() == 0);
}

TEST_CASE("a 5 GiB gzip bomb behind an IDX header fails fast: only the declared bytes are inflated", "[hostile][idx]") {
    TempDir dir;
    const TinyIdx tiny = tiny_idx(5);  // header (5, 4, 3) + 60 pixel bytes
    const fs::path bomb = dir / "bomb-images-idx3-ubyte.gz";
    write_gzip_bomb(bomb, tiny.images, size_t{64} << 20);  // 64 MiB of zeros here; 5 GiB behaves the same
    const auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_WITH(read_idx(bomb, 3), Catch::Contains(bomb.string() + ": too long: more than") &&
                                             Catch::Contains("the header's sizes need exactly 76"));
    CHECK(seconds_since(start) < 2.0);  // stops after 1 MiB of the 64 MiB

    // A header that declares more values than the memory budget: refused before allocating.
    write_bytes(dir / "huge-images", idx_bytes({1u << 20, 1u << 10, 1u << 9}, {}));
    CHECK_THROWS_WITH(read_idx(dir / "huge-images", 3), Catch::Contains("memory budget"));
    // Found by fuzz_idx: sizes whose product overflows int64_t before the 2^40 cap was checked.
    write_bytes(dir / "overflow-images", idx_bytes({816, 808464432, 808464432}, {}));
    CHECK_THROWS_WITH(read_idx(dir / "overflow-images", 3), Catch::Contains("sizes multiply to more than 2^40 values"));
    // Whole-file reads (CIFAR) stop at their limit too.
    write_gzip_bomb(dir / "bomb.bin", {}, size_t{8} << 20);
    CHECK_THROWS_WITH(read_file_bytes(dir / "bomb.bin", int64_t{2} << 20),
                      Catch::Contains((dir / "bomb.bin").string() + ": holds more than 2.0 MiB"));
}

TEST_CASE("data files that are FIFOs or symlink loops are errors, not hangs or aborts", "[hostile][idx]") {
    TempDir dir;
    REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
    CHECK_THROWS_WITH(read_idx(dir / "fifo", 3), Catch::Contains((dir / "fifo").string() + ": cannot open: not a regular file"));
    CHECK_THROWS_WITH(read_safetensors((dir / "fifo").string()), Catch::Contains("not a regular file"));
    Dataset cifar;
    cifar.class_names.assign(10, "c");
    fs::create_symlink(dir / "loop", dir / "loop");
    CHECK_THROWS_AS(append_cifar_file(dir / "loop", CifarLabels::cifar10, cifar), Error);
    CHECK_THROWS_AS(read_image_file(dir / "loop"), Error);
}

TEST_CASE("safetensors: the tensors must tile the data region exactly", "[hostile][safetensors]") {
    TempDir dir;
    TensorFile file;
    file.f32.emplace("a", Tensor::full({2, 3}, 1.5f));
    file.f32.emplace("b", Tensor::full({4}, -2.0f));
    const fs::path good = dir / "good.safetensors";
    write_safetensors(good.string(), file);
    REQUIRE(read_safetensors(good.string()).tensor("b").data()[3] == -2.0f);
    std::vector<uint8_t> bytes = read_bytes(good);
    uint64_t header_size = 0;
    std::memcpy(&header_size, bytes.data(), 8);

    SECTION("a header length one byte short (every tensor shifted by a byte)") {
        // The header padded with two spaces, its length given one byte short: still valid JSON,
        // but the data region now starts one byte early.
        std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<long>(header_size));
        header.erase(header.find_last_not_of(' ') + 1);
        header += "  ";
        const uint64_t short_by_one = header.size() - 1;
        std::vector<uint8_t> shifted(8);
        std::memcpy(shifted.data(), &short_by_one, 8);
        shifted.insert(shifted.end(), header.begin(), header.end());
        shifted.insert(shifted.end(), bytes.begin() + 8 + static_cast<long>(header_size), bytes.end());
        write_bytes(dir / "short.safetensors", shifted);
        CHECK_THROWS_WITH(read_safetensors((dir / "short.safetensors").string()),
                          Catch::Contains("short.safetensors: the tensors cover 40 of the 41 data bytes"));
    }
    SECTION("bytes appended after the last tensor") {
        bytes.push_back(0);
        write_bytes(dir / "long.safetensors", bytes);
        CHECK_THROWS_WITH(read_safetensors((dir / "long.safetensors").string()), Catch::Contains("cover 40 of the 41"));
    }
    SECTION("found by fuzz_safetensors: a number too large for a double in the header") {
        const std::string header = R"({"x":8888e88888})";
        std::vector<uint8_t> hostile_file(8);
        const uint64_t size = header.size();
        std::memcpy(hostile_file.data(), &size, 8);
        hostile_file.insert(hostile_file.end(), header.begin(), header.end());
        CHECK_THROWS_WITH(parse_safetensors(hostile_file, "n.safetensors"),
                          Catch::Contains("n.safetensors: header is not valid JSON") && Catch::Contains("number overflow"));
    }
    SECTION("a shape whose element count overflows") {
        const std::string header = R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})";
        std::vector<uint8_t> hostile_file(8);
        const uint64_t size = header.size();
        std::memcpy(hostile_file.data(), &size, 8);
        hostile_file.insert(hostile_file.end(), header.begin(), header.end());
        CHECK_THROWS_WITH(parse_safetensors(hostile_file, "x.safetensors"),
                          Catch::Contains("x.safetensors: tensor 'w'") &&
                              Catch::Contains("(4294967296,4294967296) has more than 2^63 elements"));
    }
}

TEST_CASE("atomic writes never follow a planted symlink and never leave a temporary file", "[hostile][atomic]") {
    TempDir dir;
    const std::string target = (dir / "config.json").string();
    write_bytes(dir / "victim", {'s', 'e', 'c', 'r', 'e', 't'});
    fs::create_symlink(dir / "victim", target + ".tmp");  // the old fixed temporary name

    write_text_atomically(target, "new");
    CHECK(read_text(target) == "new");
    CHECK(read_text(dir / "victim") == "secret");
    CHECK(extra_files(dir.path(), {"config.json", "config.json.tmp", "victim"}).empty());

    SECTION("the content callback throws: the old file stays, no temporary file") {
        CHECK_THROWS_WITH(write_atomically(target, [](std::ostream& out) {
                              out << "half";
                              throw Error("interrupted");
                          }),
                          "interrupted");
        CHECK(read_text(target) == "new");
        CHECK(extra_files(dir.path(), {"config.json", "config.json.tmp", "victim"}).empty());
    }
    SECTION("the rename fails (the target is a folder): the temporary file is removed") {
        fs::create_directories(dir / "folder/inside");
        CHECK_THROWS_WITH(write_text_atomically((dir / "folder").string(), "x"), Catch::Contains("cannot rename"));
        CHECK(extra_files(dir.path(), {"config.json", "config.json.tmp", "victim", "folder"}).empty());
    }
    SECTION("a device is not replaced") {
        CHECK_THROWS_WITH(write_text_atomically("/dev/full", "x"), Catch::Contains("/dev/full: exists and is not a regular file"));
    }
}

TEST_CASE("a full disk is a write error, never a short file with success", "[hostile][atomic]") {
    TempDir dir;
    const std::string target = (dir / "model.bin").string();
    write_text_atomically(target, "old");
    // A file-size limit makes write() fail with EFBIG, as a full file system fails with ENOSPC.
    const auto previous_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit previous{};
    REQUIRE(getrlimit(RLIMIT_FSIZE, &previous) == 0);
    rlimit small = previous;
    small.rlim_cur = 4096;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
    const std::string big(100000, 'x');
    std::string message;
    try {
        write_text_atomically(target, big);
    } catch (const Error& e) {
        message = e.what();
    }
    Dataset grid_data;
    grid_data.name = "grid";
    grid_data.channels = 1, grid_data.height = 128, grid_data.width = 128;
    std::mt19937 noise(1);  // incompressible: the PNG is far larger than the 4 KiB limit
    for (int i = 0; i < 128 * 128; ++i) grid_data.pixels.push_back(static_cast<uint8_t>(noise() >> 24));
    grid_data.labels = {0};
    grid_data.class_names = {"noise"};
    const int64_t index = 0;
    std::string grid_message;
    try {
        write_image_grid(grid_data, {&index, 1}, 1, 1, dir / "grid.png");
    } catch (const Error& e) {
        grid_message = e.what();
    }
    setrlimit(RLIMIT_FSIZE, &previous);
    std::signal(SIGXFSZ, previous_handler);
    CHECK_THAT(message, Catch::Contains(target + ": write failed: File too large"));
    CHECK(read_text(target) == "old");
    CHECK_THAT(grid_message, Catch::Contains("grid.png: write failed"));
    CHECK_FALSE(fs::exists(dir / "grid.png"));
    CHECK(extra_files(dir.path(), {"model.bin"}).empty());
}

TEST_CASE("images: only PNG, JPEG, BMP and PGM/PPM by their magic, with sane sizes", "[hostile][image]") {
    const ImageFormat grey28{1, 28, 28};
    SECTION("a PGM with height 0") {
        CHECK_THROWS_WITH(read_image(hostile("pgm_zero_height.pgm"), grey28),
                          Catch::Contains("pgm_zero_height.pgm: cannot read image: PGM/PPM image of 28x0 pixels"));
    }
    SECTION("a PGM whose width has 12 digits") {
        CHECK_THROWS_WITH(read_image(hostile("pgm_huge_number.pgm"), grey28), Catch::Contains("width has more than 9 digits"));
    }
    SECTION("a truncated Radiance HDR named x.png is refused at once") {
        const auto start = std::chrono::steady_clock::now();
        CHECK_THROWS_WITH(read_image(hostile("truncated_hdr_named.png"), grey28),
                          Catch::Contains("truncated_hdr_named.png: cannot read image: not a PNG, JPEG, BMP or binary PGM/PPM"));
        CHECK(seconds_since(start) < 1.0);
    }
    SECTION("a palette PNG with indices past its palette decodes the same every time: black") {
        const std::vector<uint8_t> rgb = read_image(hostile("palette_out_of_range.png"), {3, 4, 4});
        // CHW: row pixels are indices 0 (red), 1 (green), 2 and 200 (past the 2-entry palette).
        const std::vector<uint8_t> red_row = {255, 0, 0, 0}, green_row = {0, 255, 0, 0}, blue_row = {0, 0, 0, 0};
        CHECK(std::vector<uint8_t>(rgb.begin(), rgb.begin() + 4) == red_row);
        CHECK(std::vector<uint8_t>(rgb.begin() + 16, rgb.begin() + 20) == green_row);
        CHECK(std::vector<uint8_t>(rgb.begin() + 32, rgb.begin() + 36) == blue_row);
    }
    SECTION("a truncated PGM and a good one") {
        const std::string header = "P5\n# a comment\n3 2\n255\n";
        std::vector<uint8_t> pgm(header.begin(), header.end());
        for (uint8_t v : {10, 20, 30, 40, 50}) pgm.push_back(v);
        CHECK_THROWS_WITH(decode_image_hwc(pgm, "t.pgm", 1), Catch::Contains("t.pgm: cannot read image: truncated PGM/PPM"));
        pgm.push_back(60);
        CHECK(decode_image_hwc(pgm, "t.pgm", 1) == std::vector<uint8_t>{10, 20, 30, 40, 50, 60});
    }
    SECTION("found by fuzz_image: a JPEG Huffman table of more than 256 symbols, a 16-bit PGM") {
        std::vector<uint8_t> jpeg = {0xff, 0xd8, 0xff, 0xc4, 0x00, 0x13, 0x00, 255, 45};
        jpeg.resize(jpeg.size() + 14, 0);
        CHECK_THROWS_WITH(decode_image_hwc(jpeg, "h.jpg", 3), Catch::Contains("h.jpg: cannot read image: corrupt JPEG: a "
                                                                              "Huffman table declares 300 symbols"));
        const std::string header = "P6\n2 2\n256\n";
        std::vector<uint8_t> ppm(header.begin(), header.end());
        ppm.resize(ppm.size() + 24, 7);
        CHECK_THROWS_WITH(decode_image_hwc(ppm, "d.ppm", 1), Catch::Contains("maximum value 256 is not in [1, 255]"));
        // fuzz/corpus/image/bmp-truncated-7168x514.bmp (fuzz_image, a timeout): 57 bytes whose
        // header says 7168x514 at 24 bits; stb_image read the missing 11 MB as zeros.
        const std::vector<uint8_t> bmp = {
            0x42, 0x4d, 0x4e, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x36, 0x0, 0x0, 0x0, 0x28, 0x0, 0x0, 0x0, 0x0, 0x1c,
            0x0, 0x0, 0x2, 0x2, 0x0, 0x0, 0x1, 0x0, 0x18, 0x0, 0x0, 0x0, 0x0, 0x9d, 0x0, 0x3b, 0x3b, 0x3b, 0x3b, 0x3b,
            0x3b, 0x3b, 0x3b, 0x3b, 0x3b, 0x3b, 0x3b, 0x3b, 0x3b, 0x3b, 0xcd, 0xc4, 0x3b, 0x3b, 0x3b, 0x3b, 0x3b};
        CHECK_THROWS_WITH(decode_image_hwc(bmp, "f.bmp", 3),
                          Catch::Contains("f.bmp: cannot read image: truncated BMP: its header says 7168x514 pixels at "
                                          "24 bits from byte 54, 11053110 bytes, but the file has 57"));
        // fuzz/corpus/image/jpeg-progressive-4096x12560.jpg (fuzz_image, a timeout): a 143-byte
        // progressive JPEG whose 51 million pixels stb_image decoded from zeros, for seconds.
        std::ifstream in(fs::path(BNLAB_SOURCE_DIR) / "fuzz/corpus/image/jpeg-progressive-4096x12560.jpg", std::ios::binary);
        const std::vector<uint8_t> bomb(std::istreambuf_iterator<char>(in), {});
        REQUIRE(bomb.size() == 143);
        CHECK_THROWS_WITH(decode_image_hwc(bomb, "g.jpg", 3),
                          Catch::Contains("g.jpg: cannot read image: JPEG of 4096x12560 pixels in only 143 bytes"));
        // fuzz/corpus/image/png-empty-first-idat.png: a palette PNG whose first IDAT chunk is empty
        const std::vector<uint8_t> png = {
            0x89, 0x50, 0x4e, 0x47, 0xd, 0xa, 0x1a, 0xa, 0x0, 0x0, 0x0, 0xd, 0x49, 0x48, 0x44, 0x52, 0x0, 0x0, 0x0, 0x4,
            0x0, 0x0, 0x0, 0x4, 0x8, 0x3, 0x0, 0x0, 0x0, 0x9e, 0x2f, 0x6e, 0x4c, 0x0, 0x0, 0x0, 0x6, 0x50, 0x4c, 0x54,
            0x45, 0xff, 0x0, 0x0, 0x0, 0xff, 0x0, 0x89, 0x50, 0x4e, 0x47, 0x0, 0x0, 0x0, 0x0, 0x49, 0x44, 0x41, 0x54,
            0x78, 0xda, 0x63, 0x60, 0x60, 0x64, 0x3a, 0xc1, 0x80, 0x4a, 0x0, 0x0, 0x1b, 0x1a, 0x3, 0x2d, 0xac, 0x7a,
            0x7a, 0x7a, 0x7a, 0x0, 0x49, 0x55, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
        CHECK_THROWS_WITH(decode_image_hwc(png, "e.png", 3), Catch::Contains("e.png: cannot read image: PNG whose first "
                                                                             "IDAT chunk is empty"));
    }
    SECTION("an image folder whose first image is 20000x20000") {
        TempDir dir;
        fs::create_directories(dir / "big");
        fs::copy_file(hostile("huge_20000x20000.png"), dir / "big/a.png");
        CHECK_THROWS_WITH(read_image_folder(dir.path()),
                          Catch::Contains("a.png: cannot read image: PNG image of 20000x20000 pixels is over bnlab's limit"));
        CHECK_THROWS_WITH(read_image_folder(dir.path(), {1, 8192, 8192}),
                          Catch::Contains("PNG image of 20000x20000 pixels is over bnlab's limit"));
    }
}
