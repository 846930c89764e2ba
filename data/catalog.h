// The data sets bnlab knows by name, where it looks for them, and how it loads a split.
//
// Names: fashion-mnist, mnist, kmnist (IDX), cifar10, cifar100 (CIFAR binary), and
// folder:PATH (an image folder, see image_folder.h). Splits: "train" and "test".
//
// Search order, first match wins: LoadOptions::data_dir (if given), $BNLAB_DATA (if set), ./data,
// /usr/share/datasets (where Debian's dataset-fashion-mnist installs). Under each root a
// data set is looked for in its own sub-folders (DatasetSpec::folders, e.g. "mnist" or
// "MNIST/raw" for MNIST, "cifar10/cifar-10-batches-bin" for CIFAR-10), never in the root
// itself: MNIST, Fashion-MNIST and KMNIST share file names, so a root holding them directly
// could silently give one for another.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "data/dataset.h"
#include "data/image_folder.h"

namespace bnlab {

enum class DataFormat { idx, cifar10, cifar100 };

// A file as its publisher distributes it, with the checksums that identify it.
struct PublishedFile {
    std::string name;         // e.g. "train-images-idx3-ubyte.gz" or "data_batch_1.bin"
    std::string md5, sha1;    // of the file as distributed; "" where none is published
    std::string content_md5;  // of the decompressed bytes (.gz files); "" where unknown
};

struct DatasetSpec {
    std::string name;   // as typed on the command line
    std::string title;  // for `bnlab data list`
    DataFormat format;
    std::vector<std::string> folders;  // sub-folders of each search root, in order
    // The split's files: IDX stems ("train-images", "train-labels") or CIFAR file names.
    std::vector<std::string> train_files, test_files;
    std::vector<std::string> class_names;
    std::vector<float> mean, std;  // standard normalization, per channel (see dataset.h)
    std::vector<PublishedFile> published;
    // Where to download: IDX files are fetched one by one from the first mirror that works;
    // CIFAR comes as one archive (archive.name) whose one top folder is the last part of folders[0].
    std::vector<std::string> mirrors;
    PublishedFile archive;
    std::string install_hint;  // e.g. "apt install dataset-fashion-mnist"; may be ""
};

const std::vector<DatasetSpec>& known_datasets();
// The known names (known_datasets()'s), and what a data set name may be: those, then "folder:PATH"
// (the lists that messages and the command line's help read).
const std::vector<std::string>& dataset_names();
const std::vector<std::string>& dataset_choices();
// nullptr when `name` is not a known data set (folder:PATH is not in the table).
const DatasetSpec* find_spec(const std::string& name);
bool is_folder_name(const std::string& name);  // "folder:PATH"
// Whether `name` is a known data set or folder:PATH; `split` must be "train" or "test".
bool is_valid_dataset_name(const std::string& name);
bool is_valid_split(const std::string& split);

// The roots searched, in order: data_dir (if not empty), $BNLAB_DATA (if set), ./data,
// /usr/share/datasets.
std::vector<std::filesystem::path> search_roots(const std::string& data_dir);

// Where a split's files were found.
struct Location {
    std::filesystem::path folder;               // empty when nothing was found
    std::vector<std::filesystem::path> files;   // the split's files found there
    std::vector<std::string> missing;           // files of the split absent there
    std::vector<std::filesystem::path> tried;   // every folder looked in, in order
    bool complete() const { return !folder.empty() && missing.empty(); }
};
// The first folder holding all of the split's files; failing that, the first holding some.
Location locate(const DatasetSpec& spec, const std::string& split, const std::vector<std::filesystem::path>& roots);

// A split that is not there: found nowhere (where.folder empty), or in a folder that lacks some
// of its files. The message says where bnlab looked and what is missing; how to get the data is
// for the caller to say (apps/ names its download command and flags).
class MissingDataError : public Error {
public:
    MissingDataError(const std::string& message, const DatasetSpec& spec, std::string split, Location where,
                     bool partial_would_load)
        : Error(message), spec_(&spec), split_(std::move(split)), where_(std::move(where)),
          partial_would_load_(partial_would_load) {}
    const DatasetSpec& spec() const { return *spec_; }
    const std::string& split() const { return split_; }
    const Location& where() const { return where_; }
    // LoadOptions::allow_partial would load the files that are there.
    bool partial_would_load() const { return partial_would_load_; }

private:
    const DatasetSpec* spec_;  // an entry of known_datasets(), which lives as long as the program
    std::string split_;
    Location where_;
    bool partial_would_load_;
};

struct LoadOptions {
    std::string data_dir;        // searched first
    bool allow_partial = false;  // load a split whose folder lacks some files (e.g. 2 of 5 CIFAR batches)
    ImageFormat folder_format{};  // folder:PATH only: channels and size to convert to
};

// Loads a split by name. Throws MissingDataError when it is not found or incomplete (saying
// where it looked), Error naming the file for any bad file, and Error for an unknown name.
// folder:PATH loads PATH/<split> when PATH has train/ and test/ sub-folders, else PATH itself.
Dataset load_dataset(const std::string& name, const std::string& split, const LoadOptions& options = {});

// Loads the split from one folder (the files locate() found there), without searching.
Dataset load_from_folder(const DatasetSpec& spec, const std::string& split, const std::filesystem::path& folder,
                         bool allow_partial = false);

}  // namespace bnlab
