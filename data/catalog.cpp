#include "data/catalog.h"

#include <cstdlib>

#include "core/error.h"
#include "data/cifar.h"
#include "data/idx.h"

namespace bnlab {

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kIdxTrain = {"train-images", "train-labels"};
const std::vector<std::string> kIdxTest = {"t10k-images", "t10k-labels"};

std::vector<DatasetSpec> make_specs() {
    std::vector<DatasetSpec> specs;
    // Checksums: the .gz md5s are the publishers' (torchvision checks the same values). The
    // content md5s are of the decompressed files: MNIST's images as published, the rest computed
    // here from the official files (Fashion-MNIST: from Debian's dataset-fashion-mnist, whose .gz
    // files are recompressed, so only their contents can match).
    specs.push_back({
        "fashion-mnist", "Fashion-MNIST: Zalando article images, 28x28 grey, 10 classes", DataFormat::idx,
        {"fashion-mnist", "FashionMNIST/raw", "fashion_mnist"}, kIdxTrain, kIdxTest,
        {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"},
        {0.2860f}, {0.3530f},
        {{"train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "", "f4a8712d7a061bf5bd6d2ca38dc4d50a"},
         {"train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe", "", "9018921c3c673c538a1fc5bad174d6f9"},
         {"t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79", "", "8181f5470baa50b63fa0f6fddb340f0a"},
         {"t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310", "", "15d484375f8d13e6eb1aabb0c3f46965"}},
        {"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"}, {},
        "apt install dataset-fashion-mnist (installs it in /usr/share/datasets/fashion-mnist)"});
    specs.push_back({
        "mnist", "MNIST: handwritten digits, 28x28 grey, 10 classes", DataFormat::idx, {"mnist", "MNIST/raw"},
        kIdxTrain, kIdxTest, {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, {0.1307f}, {0.3081f},
        {{"train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", "", "6bbc9ace898e44ae57da46a324031adb"},
         {"train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432", "", "a25bea736e30d166cdddb491f175f624"},
         {"t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", "", "2646ac647ad5339dbf082846283269ea"},
         {"t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", "", "27ae3e4e09519cfbb04c329615203637"}},
        {"http://yann.lecun.com/exdb/mnist/", "https://ossci-datasets.s3.amazonaws.com/mnist/"}, {}, ""});
    // KMNIST's mean/std are the values its users quote; no KMNIST copy was at hand to recompute them.
    specs.push_back({
        "kmnist", "Kuzushiji-MNIST: cursive Japanese characters, 28x28 grey, 10 classes", DataFormat::idx,
        {"kmnist", "KMNIST/raw"}, kIdxTrain, kIdxTest, {"o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"},
        {0.1918f}, {0.3483f},
        {{"train-images-idx3-ubyte.gz", "bdb82020997e1d708af4cf47b453dcf7", "", ""},
         {"train-labels-idx1-ubyte.gz", "e144d726b3acfaa3e44228e80efcd344", "", ""},
         {"t10k-images-idx3-ubyte.gz", "5c965bf0a639b31b8f53240b1b52f4d7", "", ""},
         {"t10k-labels-idx1-ubyte.gz", "7320c461ea6c1c855c0b718fb2a4b134", "", ""}},
        {"http://codh.rois.ac.jp/kmnist/dataset/kmnist/"}, {}, ""});
    // CIFAR: the publisher gives the archive's md5; the per-file SHA-1s are the ones MXNet Gluon checks.
    specs.push_back({
        "cifar10", "CIFAR-10: tiny colour photos, 3x32x32, 10 classes", DataFormat::cifar10,
        {"cifar10/cifar-10-batches-bin", "cifar-10-batches-bin", "cifar10"},
        {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"},
        {"test_batch.bin"},
        {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"},
        {0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f},
        {{"data_batch_1.bin", "", "aadd24acce27caa71bf4b10992e9e7b2d74c2540", ""},
         {"data_batch_2.bin", "", "c0ba65cce70568cd57b4e03e9ac8d2a5367c1795", ""},
         {"data_batch_3.bin", "", "1dd00a74ab1d17a6e7d73e185b69dbf31242f295", ""},
         {"data_batch_4.bin", "", "aab85764eb3584312d3c7f65fd2fd016e36a258e", ""},
         {"data_batch_5.bin", "", "26e2849e66a845b7f1e4614ae70f4889ae604628", ""},
         {"test_batch.bin", "", "67eb016db431130d61cd03c7ad570b013799c88c", ""}},
        {"https://www.cs.toronto.edu/~kriz/"},
        {"cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530", "fab780a1e191a7eda0f345501ccd62d20f7ed891", ""},
        ""});
    specs.push_back({
        "cifar100", "CIFAR-100: tiny colour photos, 3x32x32, 100 classes (fine labels)", DataFormat::cifar100,
        {"cifar100/cifar-100-binary", "cifar-100-binary", "cifar100"}, {"train.bin"}, {"test.bin"},
        {"apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
         "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
         "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
         "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
         "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
         "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
         "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
         "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
         "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
         "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm"},
        {0.5071f, 0.4865f, 0.4409f}, {0.2673f, 0.2564f, 0.2762f},
        {{"train.bin", "", "e207cd2e05b73b1393c74c7f5e7bea451d63e08e", ""},
         {"test.bin", "", "8fb6623e830365ff53cf14adec797474f5478006", ""}},
        {"https://www.cs.toronto.edu/~kriz/"},
        {"cifar-100-binary.tar.gz", "03b5dce01913d631647c71ecec9e9cb8", "a0bb982c76b83111308126cc779a992fa506b90b", ""},
        ""});
    return specs;
}

const std::vector<std::string>& split_files(const DatasetSpec& spec, const std::string& split) {
    if (!is_valid_split(split)) throw Error("unknown split '" + split + "': use train or test");
    return split == "train" ? spec.train_files : spec.test_files;
}

// The path of one split file in `folder`, if present (IDX: any of its spellings).
std::optional<fs::path> find_split_file(const DatasetSpec& spec, const fs::path& folder, const std::string& file) {
    if (spec.format == DataFormat::idx)
        return find_idx_file(folder, file, file.ends_with("images") ? "idx3-ubyte" : "idx1-ubyte");
    if (fs::is_regular_file(folder / file)) return folder / file;
    return std::nullopt;
}

// Which of the split's files `folder` holds.
Location look_in(const DatasetSpec& spec, const std::string& split, const fs::path& folder) {
    Location here;
    here.folder = folder;
    for (const std::string& file : split_files(spec, split)) {
        if (std::optional<fs::path> found = find_split_file(spec, folder, file)) here.files.push_back(*found);
        else here.missing.push_back(file);
    }
    return here;
}

std::string join(const std::vector<fs::path>& paths, const std::string& separator) {
    std::string text;
    for (const fs::path& p : paths) text += (text.empty() ? "" : separator) + p.string();
    return text;
}

std::string not_found_message(const DatasetSpec& spec, const std::string& split, const Location& where) {
    return "data set '" + spec.name + "' (" + split + " split) not found. Looked in:\n  " + join(where.tried, "\n  ");
}

Dataset load_folder_dataset(const std::string& name, const std::string& split, const ImageFormat& format) {
    const fs::path root = name.substr(std::string("folder:").size());
    const bool has_splits = fs::is_directory(root / "train") && fs::is_directory(root / "test");
    Dataset data = read_image_folder(has_splits ? root / split : root, format);
    data.name = name + "/" + split;
    return data;
}

}  // namespace

const std::vector<DatasetSpec>& known_datasets() {
    static const std::vector<DatasetSpec> specs = make_specs();
    return specs;
}

const std::vector<std::string>& dataset_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> out;
        for (const DatasetSpec& spec : known_datasets()) out.push_back(spec.name);
        return out;
    }();
    return names;
}

const std::vector<std::string>& dataset_choices() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> out = dataset_names();
        out.push_back("folder:PATH");
        return out;
    }();
    return names;
}

const DatasetSpec* find_spec(const std::string& name) {
    for (const DatasetSpec& spec : known_datasets())
        if (spec.name == name) return &spec;
    return nullptr;
}

bool is_folder_name(const std::string& name) { return name.starts_with("folder:") && name.size() > 7; }
bool is_valid_dataset_name(const std::string& name) { return is_folder_name(name) || find_spec(name) != nullptr; }
bool is_valid_split(const std::string& split) { return split == "train" || split == "test"; }

std::vector<fs::path> search_roots(const std::string& data_dir) {
    std::vector<fs::path> roots;
    if (!data_dir.empty()) roots.emplace_back(data_dir);
    if (const char* env = std::getenv("BNLAB_DATA"); env != nullptr && *env != '\0') roots.emplace_back(env);
    roots.emplace_back("data");
    roots.emplace_back("/usr/share/datasets");
    return roots;
}

Location locate(const DatasetSpec& spec, const std::string& split, const std::vector<fs::path>& roots) {
    Location first_partial;
    std::vector<fs::path> tried;
    for (const fs::path& root : roots)
        for (const std::string& sub : spec.folders) {
            tried.push_back(root / sub);
            if (!fs::is_directory(root / sub)) continue;
            Location here = look_in(spec, split, root / sub);
            if (here.missing.empty()) {
                here.tried = tried;
                return here;
            }
            if (first_partial.folder.empty() && !here.files.empty()) first_partial = here;
        }
    first_partial.tried = tried;
    return first_partial;
}

Dataset load_from_folder(const DatasetSpec& spec, const std::string& split, const fs::path& folder,
                         bool allow_partial) {
    const Location where = look_in(spec, split, folder);
    // An IDX split is one image file and one label file: half of it is never usable.
    const bool usable_partial = allow_partial && spec.format != DataFormat::idx && !where.files.empty();
    if (!where.missing.empty() && !usable_partial) {
        std::string missing;
        for (const std::string& m : where.missing) missing += " " + m;
        throw MissingDataError(folder.string() + ": the " + spec.name + " " + split + " split is incomplete, missing:" + missing,
                               spec, split, where, spec.format != DataFormat::idx && !where.files.empty());
    }
    Dataset data;
    data.class_names = spec.class_names;
    if (spec.format == DataFormat::idx) {
        const std::vector<std::string>& stems = split_files(spec, split);
        std::vector<fs::path> tried = idx_candidates(folder, stems[0], "idx3-ubyte");
        for (const fs::path& p : idx_candidates(folder, stems[1], "idx1-ubyte")) tried.push_back(p);
        data = read_idx_dataset(where.files[0], where.files[1], spec.class_names, tried);
    } else {
        const CifarLabels labels = spec.format == DataFormat::cifar10 ? CifarLabels::cifar10 : CifarLabels::cifar100_fine;
        for (const fs::path& file : where.files) append_cifar_file(file, labels, data);
    }
    data.name = spec.name + "/" + split;
    data.mean = spec.mean;
    data.std = spec.std;
    check_consistent(data, folder.string());
    return data;
}

Dataset load_dataset(const std::string& name, const std::string& split, const LoadOptions& options) {
    if (!is_valid_split(split)) throw Error("unknown split '" + split + "': use train or test");
    if (is_folder_name(name)) return load_folder_dataset(name, split, options.folder_format);
    const DatasetSpec* spec = find_spec(name);
    if (spec == nullptr) throw Error(unknown_choice("data set", name, dataset_choices()));
    const Location where = locate(*spec, split, search_roots(options.data_dir));
    if (where.folder.empty()) throw MissingDataError(not_found_message(*spec, split, where), *spec, split, where, false);
    return load_from_folder(*spec, split, where.folder, options.allow_partial);
}

}  // namespace bnlab
