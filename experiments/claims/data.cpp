#include "experiments/claims/data.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "data/catalog.h"

namespace bnlab::claims {

namespace {

// The first `count` images of `data` (0 or more than it has: all of them).
Dataset first_images(const Dataset& data, int64_t count) {
    const int64_t n = count > 0 ? std::min(count, data.size()) : data.size();
    return subset(data, 0, n, n < data.size() ? fmt::format("{}[:{}]", data.name, n) : data.name);
}

}  // namespace

ClaimData load_claim_data(const ClaimContext& ctx, const std::string& default_dataset, const DataSizes& sizes) {
    return load_claim_data(ctx.dataset(default_dataset), ctx.options().data_dir, sizes);
}

ClaimData load_named_data(const ClaimContext& ctx, const std::string& dataset, const DataSizes& sizes) {
    return load_claim_data(dataset, ctx.options().data_dir, sizes);
}

ClaimData load_claim_data(const std::string& dataset, const std::string& data_dir, const DataSizes& sizes) {
    ClaimData out;
    out.dataset = dataset;
    const LoadOptions load{.data_dir = data_dir, .allow_partial = true};
    const Dataset full = load_dataset(out.dataset, "train", load);
    const int64_t cut = full.size() - sizes.validation_images;
    if (sizes.validation_images > 0 && cut < 1000)
        throw Error(fmt::format("{}: {} training images are too few to hold out {} for validation", out.dataset,
                                full.size(), sizes.validation_images));
    const int64_t train = sizes.train_images > 0 ? std::min(sizes.train_images, cut) : cut;
    out.folder = full.files.empty() ? "" : std::filesystem::path(full.files.front()).parent_path().string();
    out.full_train_size = full.size();
    out.train = first_images(full, train);
    out.validation = subset(full, cut, full.size(), full.name + "[validation]");
    out.test = first_images(load_dataset(out.dataset, "test", load), sizes.test_images);
    return out;
}

std::string ClaimData::description() const {
    return fmt::format("{} ({}): training subset = the first {} of its {} training images; validation "
                       "(learning-rate choice only) = the last {}; test = {} test images",
                       dataset, folder, train.size(), full_train_size, validation.size(), test.size());
}

std::string ClaimData::held_out_description(const std::string& what_validation_does) const {
    return fmt::format("{}: {} training images, {} validation images (held out from the training split) {}; {} test "
                       "images for the final numbers",
                       dataset, train.size(), validation.size(), what_validation_does, test.size());
}

}  // namespace bnlab::claims
