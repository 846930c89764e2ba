// The data readers on tiny files written here: IDX (raw, gzip, both spellings), CIFAR-10/100,
// image folders, checksums; each kind of bad file gives an error naming the file.
#include <stb/stb_image_write.h>

#include <catch2/catch.hpp>

#include "core/error.h"
#include "data/checksum.h"
#include "data/cifar.h"
#include "data/file_io.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "data_test_util.h"

using namespace bnlab;
using namespace bnlab::test;

namespace {
const std::vector<std::string> kTenClasses = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
}

TEST_CASE("IDX images and labels read from raw and gzip files", "[data][idx]") {
    TempDir dir;
    const TinyIdx tiny = tiny_idx(5);
    write_bytes(dir / "raw-images-idx3-ubyte", tiny.images);
    write_bytes(dir / "raw-labels-idx1-ubyte", tiny.labels);
    write_gzip(dir / "gz-images-idx3-ubyte.gz", tiny.images);
    write_gzip(dir / "gz-labels-idx1-ubyte.gz", tiny.labels);
    for (const std::string stem : {"raw", "gz"}) {
        const std::string suffix = stem == "gz" ? ".gz" : "";
        const Dataset data = read_idx_dataset(dir / (stem + "-images-idx3-ubyte" + suffix),
                                              dir / (stem + "-labels-idx1-ubyte" + suffix), kTenClasses);
        CHECK(data.size() == 5);
        CHECK(data.channels == 1);
        CHECK(data.height == 4);
        CHECK(data.width == 3);
        CHECK(data.labels == std::vector<int32_t>{0, 1, 2, 3, 4});
        CHECK(data.image(2)[0] == 14);   // (7*2 + 0) % 256
        CHECK(data.image(4)[11] == 39);  // 7*4 + 11
        CHECK(data.files.size() == 2);
    }
}

TEST_CASE("IDX files are found under both spellings, gzip first", "[data][idx]") {
    TempDir dir;
    const TinyIdx tiny = tiny_idx(3);
    CHECK_FALSE(find_idx_file(dir.path(), "train-images", "idx3-ubyte").has_value());
    write_bytes(dir / "train-images.idx3-ubyte", tiny.images);
    CHECK(find_idx_file(dir.path(), "train-images", "idx3-ubyte") == dir / "train-images.idx3-ubyte");
    write_bytes(dir / "train-images-idx3-ubyte", tiny.images);
    CHECK(find_idx_file(dir.path(), "train-images", "idx3-ubyte") == dir / "train-images-idx3-ubyte");
    write_gzip(dir / "train-images-idx3-ubyte.gz", tiny.images);
    CHECK(find_idx_file(dir.path(), "train-images", "idx3-ubyte") == dir / "train-images-idx3-ubyte.gz");
    CHECK(idx_candidates(dir.path(), "t10k-labels", "idx1-ubyte").size() == 4);
}

TEST_CASE("corrupt IDX files are errors naming the file and the problem", "[data][idx]") {
    TempDir dir;
    const TinyIdx tiny = tiny_idx(5);
    const fs::path images = dir / "images-idx3-ubyte", labels = dir / "labels-idx1-ubyte";
    write_bytes(labels, tiny.labels);

    SECTION("bad magic number: the number found, the one expected, the paths tried") {
        std::vector<uint8_t> bytes = tiny.images;
        bytes[3] = 1;  // a label file's magic
        write_bytes(images, bytes);
        const std::vector<fs::path> tried = {dir / "a.gz", dir / "b"};
        CHECK_THROWS_WITH(read_idx_dataset(images, labels, kTenClasses, tried),
                          Catch::Contains(images.string() + ": bad magic number 0x00000801, expected 0x00000803") &&
                              Catch::Contains("paths tried: " + (dir / "a.gz").string() + ", " + (dir / "b").string()));
        bytes[2] = 0x0d;  // float data
        bytes[3] = 3;
        write_bytes(images, bytes);
        CHECK_THROWS_WITH(read_idx(images, 3), Catch::Contains("bad magic number 0x00000d03"));
    }
    SECTION("truncated pixels") {
        write_bytes(images, std::vector<uint8_t>(tiny.images.begin(), tiny.images.end() - 1));
        CHECK_THROWS_WITH(read_idx_dataset(images, labels, kTenClasses),
                          Catch::Contains(images.string() + ": truncated: 75 bytes, but the header's sizes need exactly 76"));
    }
    SECTION("truncated header") {
        write_bytes(images, {0, 0, 8, 3, 0, 0});
        CHECK_THROWS_WITH(read_idx(images, 3), Catch::Contains(images.string() + ": truncated: 6 bytes, the header alone needs 16"));
        write_bytes(images, {0, 0});
        CHECK_THROWS_WITH(read_idx(images, 3), Catch::Contains("truncated: 2 bytes, no IDX header"));
    }
    SECTION("trailing bytes") {
        std::vector<uint8_t> bytes = tiny.images;
        bytes.push_back(0);
        write_bytes(images, bytes);
        CHECK_THROWS_WITH(read_idx(images, 3), Catch::Contains(images.string() + ": too long: 77 bytes"));
    }
    SECTION("a zero dimension") {
        write_bytes(images, idx_bytes({5, 0, 3}, {}));
        CHECK_THROWS_WITH(read_idx(images, 3), Catch::Contains("dimension 1 has size 0"));
    }
    SECTION("images and labels of different counts") {
        write_bytes(images, tiny_idx(4).images);
        CHECK_THROWS_WITH(read_idx_dataset(images, labels, kTenClasses),
                          Catch::Contains(images.string() + " holds 4 images but " + labels.string() + " holds 5 labels"));
    }
    SECTION("label out of range") {
        write_bytes(images, tiny.images);
        write_bytes(labels, idx_bytes({5}, {0, 1, 10, 3, 4}));
        CHECK_THROWS_WITH(read_idx_dataset(images, labels, kTenClasses),
                          Catch::Contains(labels.string() + ": label 10 of item 2 is out of range [0, 10)"));
    }
    SECTION("missing file") {
        CHECK_THROWS_WITH(read_idx(dir / "nope", 3), Catch::Contains((dir / "nope").string() + ": cannot open"));
    }
}

TEST_CASE("corrupt gzip streams are errors naming the file", "[data][idx]") {
    TempDir dir;
    const TinyIdx tiny = tiny_idx(50);
    write_gzip(dir / "good.gz", tiny.images);
    const std::vector<uint8_t> compressed = read_bytes(dir / "good.gz");
    REQUIRE(read_file_bytes(dir / "good.gz") == tiny.images);

    std::vector<uint8_t> truncated(compressed.begin(), compressed.begin() + static_cast<long>(compressed.size() / 2));
    write_bytes(dir / "truncated.gz", truncated);
    CHECK_THROWS_WITH(read_file_bytes(dir / "truncated.gz"),
                      Catch::Contains((dir / "truncated.gz").string() + ": corrupt or truncated gzip data"));

    std::vector<uint8_t> garbled = compressed;
    for (size_t i = 12; i < garbled.size() - 8; ++i) garbled[i] = static_cast<uint8_t>(garbled[i] ^ 0x5a);
    write_bytes(dir / "garbled.gz", garbled);
    CHECK_THROWS_WITH(read_file_bytes(dir / "garbled.gz"),
                      Catch::Contains((dir / "garbled.gz").string() + ": corrupt"));
    CHECK_THROWS_WITH(read_file_bytes(dir.path()), Catch::Contains("is a directory"));
}

TEST_CASE("CIFAR-10 and CIFAR-100 binary records", "[data][cifar]") {
    TempDir dir;
    SECTION("CIFAR-10: 1 label byte, channel-major pixels, files appended in order") {
        write_bytes(dir / "a.bin", cifar_records({{3}, {9}}));
        write_bytes(dir / "b.bin", cifar_records({{0}}));
        Dataset data;
        data.class_names = kTenClasses;
        append_cifar_file(dir / "a.bin", CifarLabels::cifar10, data);
        append_cifar_file(dir / "b.bin", CifarLabels::cifar10, data);
        CHECK(data.size() == 3);
        CHECK(data.labels == std::vector<int32_t>{3, 9, 0});
        CHECK((data.channels == 3 && data.height == 32 && data.width == 32));
        CHECK(data.image(1)[0] == 1);             // record 1, R plane (0,0)
        CHECK(data.image(1)[1024] == 1);          // G plane starts at 1024: (1 + 1024) % 256
        CHECK(data.image(2)[3071] == 3071 % 256);
        CHECK(data.files.size() == 2);
    }
    SECTION("CIFAR-100: coarse and fine label bytes") {
        write_bytes(dir / "train.bin", cifar_records({{19, 99}, {4, 0}}));
        std::vector<std::string> hundred(100, "c"), twenty(20, "s");
        Dataset fine, coarse;
        fine.class_names = hundred;
        coarse.class_names = twenty;
        append_cifar_file(dir / "train.bin", CifarLabels::cifar100_fine, fine);
        append_cifar_file(dir / "train.bin", CifarLabels::cifar100_coarse, coarse);
        CHECK(fine.labels == std::vector<int32_t>{99, 0});
        CHECK(coarse.labels == std::vector<int32_t>{19, 4});
        CHECK(fine.image(1)[0] == 1);
    }
    SECTION("truncated, empty and out-of-range files") {
        std::vector<uint8_t> bytes = cifar_records({{1}, {2}});
        bytes.pop_back();
        write_bytes(dir / "short.bin", bytes);
        write_bytes(dir / "empty.bin", {});
        write_bytes(dir / "label.bin", cifar_records({{1}, {2}, {10}}));
        Dataset data;
        data.class_names = kTenClasses;
        CHECK_THROWS_WITH(append_cifar_file(dir / "short.bin", CifarLabels::cifar10, data),
                          Catch::Contains((dir / "short.bin").string() +
                                          ": truncated or not a CIFAR file: 6145 bytes is not a whole number of 3073-byte records"));
        CHECK_THROWS_WITH(append_cifar_file(dir / "empty.bin", CifarLabels::cifar10, data),
                          Catch::Contains((dir / "empty.bin").string() + ": empty file"));
        CHECK_THROWS_WITH(append_cifar_file(dir / "label.bin", CifarLabels::cifar10, data),
                          Catch::Contains((dir / "label.bin").string() + ": record 2 has label 10, out of range [0, 10)"));
        // A CIFAR-10 file read as CIFAR-100 has the wrong record size.
        write_bytes(dir / "ten.bin", cifar_records({{1}}));
        data.class_names.assign(100, "c");
        CHECK_THROWS_WITH(append_cifar_file(dir / "ten.bin", CifarLabels::cifar100_fine, data),
                          Catch::Contains("3074-byte records"));
    }
}

TEST_CASE("image folders: classes from folder names, converted and resized", "[data][folder]") {
    TempDir dir;
    // cats/: two 4x2 RGB images; dogs/: one 8x4 grey image; notes.txt is ignored.
    std::vector<uint8_t> rgb(4 * 2 * 3), grey(8 * 4, 200);
    for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(i * 10);
    fs::create_directories(dir / "cats");
    fs::create_directories(dir / "dogs");
    REQUIRE(stbi_write_png((dir / "cats/b.png").c_str(), 4, 2, 3, rgb.data(), 12));
    REQUIRE(stbi_write_bmp((dir / "cats/a.BMP").c_str(), 4, 2, 3, rgb.data()));
    REQUIRE(stbi_write_png((dir / "dogs/x.png").c_str(), 8, 4, 1, grey.data(), 8));
    write_bytes(dir / "dogs/notes.txt", {'h', 'i'});

    const Dataset data = read_image_folder(dir.path(), {3, 2, 4});
    CHECK(data.class_names == std::vector<std::string>{"cats", "dogs"});
    CHECK(data.labels == std::vector<int32_t>{0, 0, 1});
    CHECK((data.channels == 3 && data.height == 2 && data.width == 4));
    // Pixel (y=1, x=2) of the RGB image: interleaved index (1*4 + 2)*3 + c, stored at c*8 + 6.
    for (int c = 0; c < 3; ++c) CHECK(data.image(1)[static_cast<size_t>(c * 8 + 6)] == rgb[static_cast<size_t>(18 + c)]);
    // The grey 8x4 image, resized to 4x2, stays uniformly 200 in every channel.
    for (uint8_t v : data.image(2)) CHECK(v == 200);
    CHECK(data.mean.size() == 3);

    const Dataset auto_format = read_image_folder(dir.path());  // size and channels of the first image
    CHECK((auto_format.channels == 3 && auto_format.height == 2 && auto_format.width == 4));
    const Dataset grey_format = read_image_folder(dir.path(), {1, 0, 0});
    CHECK(grey_format.channels == 1);

    write_bytes(dir / "dogs/broken.png", {0x89, 'P', 'N', 'G', 1, 2, 3});
    CHECK_THROWS_WITH(read_image_folder(dir.path()), Catch::Contains((dir / "dogs/broken.png").string() + ": cannot read image"));
    fs::remove(dir / "dogs/broken.png");
    fs::create_directories(dir / "empty");
    CHECK_THROWS_WITH(read_image_folder(dir.path()), Catch::Contains((dir / "empty").string() + ": class folder has no"));
    CHECK_THROWS_WITH(read_image_folder(dir / "cats"), Catch::Contains("no class folders"));
    CHECK_THROWS_WITH(read_image_folder(dir / "missing"), Catch::Contains("not a folder"));
}

TEST_CASE("MD5 and SHA-1 match the standards' test vectors", "[data][checksum]") {
    const auto bytes = [](const std::string& text) {
        return std::vector<uint8_t>(text.begin(), text.end());
    };
    CHECK(digest_hex(DigestKind::md5, {}) == "d41d8cd98f00b204e9800998ecf8427e");
    CHECK(digest_hex(DigestKind::md5, bytes("abc")) == "900150983cd24fb0d6963f7d28e17f72");
    CHECK(digest_hex(DigestKind::md5, bytes("12345678901234567890123456789012345678901234567890123456789012345678901234567890")) ==
          "57edf4a22be3c955ac49da2e2107b67a");
    CHECK(digest_hex(DigestKind::sha1, {}) == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    CHECK(digest_hex(DigestKind::sha1, bytes("abc")) == "a9993e364706816aba3e25717850c26c9cd0d89d");
    CHECK(digest_hex(DigestKind::sha1, bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
          "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    // Fed in uneven pieces, a million 'a's: the digest does not depend on how updates are split.
    Digest million(DigestKind::sha1);
    const std::vector<uint8_t> chunk(997, 'a');
    size_t fed = 0;
    while (fed < 1000000) {
        const size_t take = std::min<size_t>(chunk.size() - fed % 7, 1000000 - fed);
        million.update({chunk.data(), take});
        fed += take;
    }
    CHECK(million.hex() == "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    TempDir dir;
    write_bytes(dir / "abc", bytes("abc"));
    CHECK(file_digest_hex(DigestKind::md5, dir / "abc") == "900150983cd24fb0d6963f7d28e17f72");
    CHECK_THROWS_WITH(file_digest_hex(DigestKind::md5, dir / "nope"), Catch::Contains("nope: cannot open"));
}
