// Finding data sets by name: the search order, both splits, incomplete folders, and the
// message when nothing is found; checking files against published checksums.
#include <catch2/catch.hpp>
#include <cstdlib>

#include <stb/stb_image_write.h>

#include "core/error.h"
#include "data/catalog.h"
#include "data/checksum.h"
#include "data/fetch.h"
#include "data_test_util.h"

using namespace bnlab;
using namespace bnlab::test;

namespace {

// Sets an environment variable for one scope, restoring the old value after.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const std::string& value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        setenv(name, value.c_str(), 1);
    }
    ~ScopedEnv() {
        if (old_) setenv(name_, old_->c_str(), 1);
        else unsetenv(name_);
    }

private:
    const char* name_;
    std::optional<std::string> old_;
};

// A tiny MNIST-like split in folder: `count` 4x3 images (gzip) with labels i % 10.
void write_idx_split(const fs::path& folder, const std::string& prefix, uint32_t count) {
    const TinyIdx tiny = tiny_idx(count);
    write_gzip(folder / (prefix + "-images-idx3-ubyte.gz"), tiny.images);
    write_bytes(folder / (prefix + ".labels-idx1-ubyte"), tiny.labels);  // mixed spellings are fine
    write_bytes(folder / (prefix + "-labels.idx1-ubyte"), tiny.labels);
}

}  // namespace

TEST_CASE("data set names, splits and search roots", "[data][catalog]") {
    for (const std::string name : {"fashion-mnist", "mnist", "kmnist", "cifar10", "cifar100"}) {
        const DatasetSpec* spec = find_spec(name);
        REQUIRE(spec != nullptr);
        CHECK(spec->mean.size() == spec->std.size());
        CHECK(spec->class_names.size() == (name == "cifar100" ? 100u : 10u));
        CHECK(is_valid_dataset_name(name));
    }
    CHECK(find_spec("imagenet") == nullptr);
    CHECK(is_valid_dataset_name("folder:/tmp/x"));
    CHECK_FALSE(is_valid_dataset_name("folder:"));
    CHECK_FALSE(is_valid_dataset_name("MNIST"));
    CHECK(is_valid_split("train"));
    CHECK_FALSE(is_valid_split("val"));
    {
        ScopedEnv env("BNLAB_DATA", "/from/env");
        const std::vector<fs::path> roots = search_roots("/from/flag");
        CHECK(roots == std::vector<fs::path>{"/from/flag", "/from/env", "data", "/usr/share/datasets"});
    }
    ScopedEnv empty("BNLAB_DATA", "");
    CHECK(search_roots("") == std::vector<fs::path>{"data", "/usr/share/datasets"});
}

TEST_CASE("load_dataset finds a data set in the first root that has it", "[data][catalog]") {
    TempDir flag_root, env_root;
    write_idx_split(flag_root / "mnist", "train", 7);
    write_idx_split(flag_root / "mnist", "t10k", 3);
    write_idx_split(env_root / "MNIST/raw", "train", 5);
    ScopedEnv env("BNLAB_DATA", env_root.path().string());

    const Dataset train = load_dataset("mnist", "train", {.data_dir = flag_root.path().string()});
    CHECK(train.size() == 7);
    CHECK(train.name == "mnist/train");
    CHECK(train.mean == std::vector<float>{0.1307f});
    CHECK(train.class_names.at(3) == "3");
    CHECK(load_dataset("mnist", "test", {.data_dir = flag_root.path().string()}).size() == 3);
    // Without --data-dir, $BNLAB_DATA comes first (torchvision's MNIST/raw layout).
    CHECK(load_dataset("mnist", "train").size() == 5);
    // Under $BNLAB_DATA there is no test split: found nowhere, the error says where it looked.
    if (!fs::exists("/usr/share/datasets/mnist"))
        CHECK_THROWS_WITH(load_dataset("mnist", "test"),
                          Catch::Contains("data set 'mnist' (test split) not found. Looked in:") &&
                              Catch::Contains((env_root / "MNIST/raw").string()) &&
                              Catch::Contains("/usr/share/datasets/mnist"));
    // The root itself is never taken for a data set: MNIST's files there could be anything.
    TempDir bare;
    write_idx_split(bare.path(), "train", 4);
    const Location where = locate(*find_spec("kmnist"), "train", {bare.path()});
    CHECK(where.folder.empty());
    CHECK(where.tried == std::vector<fs::path>{bare / "kmnist", bare / "KMNIST/raw"});
}

TEST_CASE("a missing data set's error says where it looked, and names no command or flag", "[data][catalog]") {
    TempDir empty;
    ScopedEnv env("BNLAB_DATA", (empty / "nothing").string());
    // Nothing under these roots has fashion-mnist unless Debian's package is installed.
    const Location where = locate(*find_spec("fashion-mnist"), "train", {empty.path()});
    CHECK(where.folder.empty());
    CHECK(where.tried.size() == 3);
    CHECK_THROWS_WITH(load_dataset("cifar100", "train", {.data_dir = empty.path().string()}),
                      Catch::Contains("data set 'cifar100' (train split) not found. Looked in:") &&
                          Catch::Contains((empty / "cifar100/cifar-100-binary").string()) &&
                          Catch::Contains((empty / "nothing/cifar-100-binary").string()) &&
                          !Catch::Contains("bnlab data") && !Catch::Contains("--"));
    // The error carries what a front end needs to say how to get the data (apps/ does).
    try {
        load_dataset("cifar100", "train", {.data_dir = empty.path().string()});
        FAIL("no error");
    } catch (const MissingDataError& e) {
        CHECK(e.spec().name == "cifar100");
        CHECK(e.split() == "train");
        CHECK(e.where().folder.empty());
        CHECK(e.where().tried.front() == empty / "cifar100/cifar-100-binary");
        CHECK_FALSE(e.partial_would_load());
    }
    CHECK_THAT(find_spec("fashion-mnist")->install_hint, Catch::StartsWith("apt install dataset-fashion-mnist"));
    CHECK_THROWS_WITH(load_dataset("imagenet", "train"),
                      "unknown data set 'imagenet' (known: fashion-mnist, mnist, kmnist, cifar10, cifar100, folder:PATH)");
    CHECK_THROWS_WITH(load_dataset("mnist", "validation"), Catch::Contains("unknown split 'validation'"));
}

TEST_CASE("dataset_choices lists every known data set, then folder:PATH", "[data][catalog]") {
    std::vector<std::string> names;
    for (const DatasetSpec& spec : known_datasets()) names.push_back(spec.name);
    CHECK(dataset_names() == names);
    names.push_back("folder:PATH");
    CHECK(dataset_choices() == names);
    for (const std::string& name : dataset_names()) CHECK(is_valid_dataset_name(name));
}

TEST_CASE("an incomplete CIFAR folder loads only when partial data is allowed", "[data][catalog]") {
    TempDir root;
    const fs::path folder = root / "cifar10/cifar-10-batches-bin";
    write_bytes(folder / "data_batch_1.bin", cifar_records({{1}, {2}}));
    write_bytes(folder / "data_batch_2.bin", cifar_records({{3}}));
    write_bytes(folder / "test_batch.bin", cifar_records({{4}}));
    const std::string dir = root.path().string();
    CHECK_THROWS_WITH(load_dataset("cifar10", "train", {.data_dir = dir}),
                      Catch::Contains("the cifar10 train split is incomplete, missing: data_batch_3.bin "
                                      "data_batch_4.bin data_batch_5.bin") &&
                          !Catch::Contains("--"));
    try {
        load_dataset("cifar10", "train", {.data_dir = dir});
        FAIL("no error");
    } catch (const MissingDataError& e) {
        CHECK(e.where().folder == folder);
        CHECK(e.where().missing == std::vector<std::string>{"data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"});
        CHECK(e.partial_would_load());
    }
    const Dataset partial = load_dataset("cifar10", "train", {.data_dir = dir, .allow_partial = true});
    CHECK(partial.labels == std::vector<int32_t>{1, 2, 3});
    CHECK(partial.mean.size() == 3);
    CHECK(load_dataset("cifar10", "test", {.data_dir = dir}).size() == 1);
    // An IDX split without its label file is never loaded, partial or not.
    write_gzip(root / "mnist/train-images-idx3-ubyte.gz", tiny_idx(3).images);
    CHECK_THROWS_WITH(load_dataset("mnist", "train", {.data_dir = dir, .allow_partial = true}),
                      Catch::Contains("the mnist train split is incomplete, missing: train-labels"));
    try {
        load_dataset("mnist", "train", {.data_dir = dir});
        FAIL("no error");
    } catch (const MissingDataError& e) {
        CHECK_FALSE(e.partial_would_load());  // half an IDX split is never usable
    }
}

TEST_CASE("folder:PATH loads an image folder, with train/test sub-folders when present", "[data][catalog]") {
    TempDir root;
    const std::vector<uint8_t> grey(4 * 4, 77);
    for (const std::string split : {"train", "test"})
        for (const std::string cls : {"a", "b"}) {
            fs::create_directories(root / (split + "/" + cls));
            REQUIRE(stbi_write_png((root / (split + "/" + cls + "/1.png")).c_str(), 4, 4, 1, grey.data(), 4));
        }
    REQUIRE(stbi_write_png((root / "train/b/2.png").c_str(), 4, 4, 1, grey.data(), 4));
    const Dataset train = load_dataset("folder:" + root.path().string(), "train");
    CHECK(train.size() == 3);
    CHECK(train.class_names == std::vector<std::string>{"a", "b"});
    CHECK(load_dataset("folder:" + root.path().string(), "test").size() == 2);
    CHECK(load_dataset("folder:" + (root / "train").string(), "test").size() == 3);  // no splits: the folder itself
}

TEST_CASE("verify compares files with published checksums, recompressed .gz by contents", "[data][catalog]") {
    TempDir root;
    // A fake data set whose "published" checksums are those of tiny files written here.
    const TinyIdx tiny = tiny_idx(4);
    write_gzip(root / "train-images-idx3-ubyte.gz", tiny.images);
    write_bytes(root / "train-labels.idx1-ubyte", tiny.labels);  // uncompressed, dotted spelling
    write_bytes(root / "bad.bin", {1, 2, 3});
    DatasetSpec spec = *find_spec("mnist");
    spec.published = {
        {"train-images-idx3-ubyte.gz", "0000", "", digest_hex(DigestKind::md5, tiny.images)},  // recompressed
        {"train-labels-idx1-ubyte.gz", "1111", "", digest_hex(DigestKind::md5, tiny.labels)},  // raw: by contents
        {"t10k-images-idx3-ubyte.gz", "2222", "", ""},                                         // missing
        {"bad.bin", "", digest_hex(DigestKind::sha1, std::vector<uint8_t>{1, 2, 4}), ""},      // wrong
        {"good.bin", digest_hex(DigestKind::md5, {}), digest_hex(DigestKind::sha1, {}), ""},   // right, both
    };
    write_bytes(root / "good.bin", {});
    const std::vector<FileCheck> checks = verify_folder(spec, root.path());
    REQUIRE(checks.size() == 5);
    CHECK(checks[0].status == FileCheck::Status::ok_contents);
    CHECK_THAT(checks[0].detail, Catch::Contains("recompressed, contents match"));
    CHECK(checks[1].status == FileCheck::Status::ok_contents);
    CHECK(checks[1].path == root / "train-labels.idx1-ubyte");
    CHECK(checks[2].status == FileCheck::Status::missing);
    CHECK(checks[3].status == FileCheck::Status::mismatch);
    CHECK_THAT(checks[3].detail, Catch::Contains("sha1 " + digest_hex(DigestKind::sha1, std::vector<uint8_t>{1, 2, 3})));
    CHECK(checks[4].status == FileCheck::Status::ok);
    CHECK(std::string(status_name(checks[3].status)) == "MISMATCH");
}
