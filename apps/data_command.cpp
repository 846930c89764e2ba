#include "apps/data_command.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <numeric>
#include <string>

#include "apps/cli_common.h"
#include "core/error.h"
#include "core/random.h"
#include "data/catalog.h"
#include "data/fetch.h"
#include "data/image_grid.h"

namespace fs = std::filesystem;

namespace {

using bnlab::cli::fail;
using bnlab::cli::kRuntimeFailure;
using bnlab::cli::kUsageError;
using bnlab::cli::run_guarded;

// What every data subcommand accepts.
struct DataArgs {
    std::string name, split = "train", data_dir;
    bool partial = false;
};

void add_name_and_search(CLI::App* command, DataArgs& args) {
    command->add_option("name", args.name, "data set: " + bnlab::cli::or_list(bnlab::dataset_choices()));
    command->add_option("--data-dir", args.data_dir, "folder searched first (then $BNLAB_DATA, ./data, /usr/share/datasets)");
}

void add_split(CLI::App* command, DataArgs& args) {
    command->add_option("--split", args.split, "train or test")->capture_default_str();
    command->add_flag("--partial", args.partial, "load a split whose folder lacks some files (e.g. 2 of 5 CIFAR batches)");
}

// Usage checks shared by the commands: no stray arguments, a known data set and split.
void check_usage(const CLI::App* command, const DataArgs& args, bool needs_name) {
    bnlab::cli::reject_extras(command);
    if (!needs_name) return;
    if (args.name.empty()) fail(command, kUsageError, "missing the data set NAME (see bnlab data list)");
    if (!bnlab::is_valid_dataset_name(args.name))
        fail(command, kUsageError, bnlab::unknown_choice("data set", args.name, bnlab::dataset_choices()));
    if (!bnlab::is_valid_split(args.split)) fail(command, kUsageError, "unknown split '" + args.split + "': use train or test");
}

bnlab::Dataset load(const DataArgs& args, const std::string& split) {
    return bnlab::load_dataset(args.name, split, {.data_dir = args.data_dir, .allow_partial = args.partial});
}

std::string location_text(const bnlab::Location& where) {
    if (where.folder.empty()) return "not found";
    if (where.complete()) return where.folder.string();
    std::string missing;
    for (const std::string& m : where.missing) missing += " " + m;
    return where.folder.string() + " (partial, missing" + missing + ")";
}

void list_datasets(const DataArgs& args) {
    const std::vector<fs::path> roots = bnlab::search_roots(args.data_dir);
    std::printf("Known data sets (searched in:");
    for (const fs::path& root : roots) std::printf(" %s", root.c_str());
    std::printf(")\n");
    for (const bnlab::DatasetSpec& spec : bnlab::known_datasets()) {
        std::printf("\n%-14s %s\n", spec.name.c_str(), spec.title.c_str());
        for (const std::string split : {"train", "test"})
            std::printf("  %-6s %s\n", split.c_str(), location_text(bnlab::locate(spec, split, roots)).c_str());
    }
    std::printf("\nfolder:PATH    any folder of PATH/<class>/<image>.png|jpg|bmp (with train/ and test/ inside, or not)\n");
}

void print_info(const bnlab::Dataset& data) {
    std::printf("%s: %lld images of %lldx%lldx%lld (C x H x W), %zu classes\n", data.name.c_str(),
                static_cast<long long>(data.size()), static_cast<long long>(data.channels),
                static_cast<long long>(data.height), static_cast<long long>(data.width), data.class_names.size());
    for (const std::string& file : data.files) std::printf("  file %s\n", file.c_str());
    const std::vector<int64_t> histogram = bnlab::class_histogram(data);
    std::printf("  class histogram:\n");
    for (size_t k = 0; k < histogram.size(); ++k)
        std::printf("    %3zu %-16s %7lld\n", k, data.class_names[k].c_str(), static_cast<long long>(histogram[k]));
    const bnlab::PixelStats stats = bnlab::pixel_stats(data);
    for (size_t c = 0; c < stats.mean.size(); ++c)
        std::printf("  channel %zu: pixel mean %.4f std %.4f (normalized with %.4f / %.4f)\n", c, stats.mean[c],
                    stats.std[c], static_cast<double>(data.mean[c]), static_cast<double>(data.std[c]));
}

// `count` distinct samples, chosen by a seeded partial Fisher-Yates shuffle.
std::vector<int64_t> pick_samples(int64_t size, int64_t count, uint64_t seed) {
    std::vector<int64_t> order(static_cast<size_t>(size));
    std::iota(order.begin(), order.end(), int64_t{0});
    bnlab::Generator generator(seed);
    count = std::min(count, size);
    for (int64_t i = 0; i < count; ++i) {
        const auto j = i + static_cast<int64_t>(generator.below(static_cast<uint64_t>(size - i)));
        std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
    }
    order.resize(static_cast<size_t>(count));
    return order;
}

// The folder where the data set was found (train split first, partial or not), or an error.
fs::path found_folder(const bnlab::DatasetSpec& spec, const DataArgs& args) {
    const std::vector<fs::path> roots = bnlab::search_roots(args.data_dir);
    for (const std::string split : {"train", "test"})
        if (bnlab::Location where = bnlab::locate(spec, split, roots); !where.folder.empty()) return where.folder;
    std::string tried;
    for (const fs::path& p : bnlab::locate(spec, "train", roots).tried) tried += "\n  " + p.string();
    throw bnlab::Error("data set '" + spec.name + "' not found. Looked in:" + tried);
}

// Verifies the files in `folder`; false when any is missing or wrong.
bool verify(const bnlab::DatasetSpec& spec, const fs::path& folder) {
    std::printf("%s in %s\n", spec.name.c_str(), folder.c_str());
    int good = 0, bad = 0, unverified = 0;
    for (const bnlab::FileCheck& check : bnlab::verify_folder(spec, folder)) {
        std::printf("  %-10s %-28s %s\n", bnlab::status_name(check.status), check.file.c_str(), check.detail.c_str());
        using Status = bnlab::FileCheck::Status;
        if (check.status == Status::ok || check.status == Status::ok_contents) ++good;
        else if (check.status == Status::unverified) ++unverified;
        else ++bad;
    }
    std::printf("%d verified, %d missing or wrong, %d without a known checksum\n", good, bad, unverified);
    return bad == 0;
}

}  // namespace

void add_data_command(CLI::App& app) {
    CLI::App* data = app.add_subcommand("data", "list, inspect, show, verify and download data sets");
    // Options live on the subcommands; the parsed values outlive parsing in this shared state.
    auto args = std::make_shared<DataArgs>();
    data->callback([data] {
        if (data->get_subcommands().empty()) {
            std::fprintf(stderr, "%s", data->help().c_str());
            fail(data, kUsageError, "missing a subcommand: list, info, show, verify or download");
        }
    });

    CLI::App* list = data->add_subcommand("list", "known data sets and where each was found (or not)");
    list->add_option("--data-dir", args->data_dir, "folder searched first");
    list->allow_extras();
    list->callback([list, args] {
        check_usage(list, *args, false);
        run_guarded(list, [&] { list_datasets(*args); });
    });

    CLI::App* info = data->add_subcommand("info", "counts, class histogram, pixel mean/std of each split");
    add_name_and_search(info, *args);
    add_split(info, *args);
    info->allow_extras();
    info->callback([info, args] {
        const bool both = info->count("--split") == 0;
        check_usage(info, *args, true);
        // Each split on its own: one that fails to load is reported and the other still shown.
        bool failed = false;
        for (const std::string split : {"train", "test"}) {
            if (!both && split != args->split) continue;
            try {
                print_info(load(*args, split));
            } catch (const bnlab::Error& e) {
                bnlab::cli::report(info, bnlab::cli::cli_message(e));
                failed = true;
            }
        }
        // A split that is missing or unreadable (corrupt) is a usage error, as in train and eval.
        if (failed) throw CLI::RuntimeError(kUsageError);
    });

    CLI::App* show = data->add_subcommand("show", "a PNG grid of samples labelled with their class names");
    add_name_and_search(show, *args);
    add_split(show, *args);
    auto out = std::make_shared<std::string>();
    auto count = std::make_shared<int64_t>(64), columns = std::make_shared<int64_t>(8), zoom = std::make_shared<int64_t>(3);
    auto seed = std::make_shared<uint64_t>(0);
    show->add_option("--out", *out, "PNG file to write");
    show->add_option("--count", *count, "number of samples")->capture_default_str();
    show->add_option("--columns", *columns, "images per row")->capture_default_str();
    show->add_option("--zoom", *zoom, "enlargement factor")->capture_default_str();
    show->add_option("--seed", *seed, "which samples: a seeded random choice")->capture_default_str();
    show->allow_extras();
    show->callback([show, args, out, count, columns, zoom, seed] {
        check_usage(show, *args, true);
        if (out->empty()) fail(show, kUsageError, "missing --out FILE.png");
        if (*count <= 0 || *columns <= 0 || *zoom <= 0 || *zoom > 16)
            fail(show, kUsageError, "--count and --columns must be positive, --zoom in [1, 16]");
        const bnlab::Dataset loaded = bnlab::cli::load_split(show, args->name, args->split,
                                                             {.data_dir = args->data_dir, .allow_partial = args->partial});
        // A canvas too large for memory (--count 60000 --columns 1 --zoom 16: 38 GB) is a bad
        // flag value, refused before anything is allocated.
        bnlab::cli::check_usage(show, [&] {
            bnlab::check_image_grid(loaded, std::min(*count, loaded.size()), *columns, *zoom, *out);
        });
        run_guarded(show, [&] {
            const std::vector<int64_t> picked = pick_samples(loaded.size(), *count, *seed);
            bnlab::write_image_grid(loaded, picked, *columns, *zoom, *out);
            std::printf("wrote %s: %zu images of %s\n", out->c_str(), picked.size(), loaded.name.c_str());
        });
    });

    CLI::App* verify_command = data->add_subcommand("verify", "check the files against their published checksums");
    add_name_and_search(verify_command, *args);
    verify_command->allow_extras();
    verify_command->callback([verify_command, args] {
        check_usage(verify_command, *args, true);
        const bnlab::DatasetSpec* spec = bnlab::find_spec(args->name);
        if (spec == nullptr) fail(verify_command, kUsageError, "folder data sets have no published checksums");
        fs::path folder;
        bnlab::cli::check_usage(verify_command, [&] { folder = found_folder(*spec, *args); });  // not there: exit code 2
        bool ok = false;
        run_guarded(verify_command, [&] { ok = verify(*spec, folder); });
        if (!ok) fail(verify_command, kRuntimeFailure, "some files are missing or differ from the published ones");
    });

    CLI::App* download = data->add_subcommand("download", "fetch a data set from its official source (needs curl)");
    download->add_option("name", args->name, "data set: " + bnlab::cli::or_list(bnlab::dataset_names()));
    auto to = std::make_shared<std::string>();
    download->add_option("--to", *to, "folder to put it in (then use --data-dir or BNLAB_DATA)");
    download->allow_extras();
    download->callback([download, args, to] {
        check_usage(download, *args, true);
        const bnlab::DatasetSpec* spec = bnlab::find_spec(args->name);
        if (spec == nullptr) fail(download, kUsageError, "folder data sets cannot be downloaded");
        if (to->empty()) fail(download, kUsageError, "missing --to DIR");
        run_guarded(download, [&] {
            const fs::path folder = bnlab::download_dataset(*spec, *to, [](const std::string& line) {
                std::printf("%s\n", line.c_str());
                std::fflush(stdout);
            });
            std::printf("done: use --data-dir %s or BNLAB_DATA=%s to find it in %s\n", to->c_str(), to->c_str(),
                        folder.c_str());
        });
    });
}
