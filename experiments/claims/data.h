// A claim's data, loaded in one place: the training split less a held-out validation tail, and
// the test split, each trimmed to what the claim's profile uses.
//
// The data set is ClaimOptions::dataset, else the claim's default; it is found through the
// search path every command uses (data/catalog.h: ClaimOptions::data_dir, then $BNLAB_DATA,
// then the standard folders). A split with only some of its files (CIFAR-10 with 2 of its 5
// training batches) is loaded as it is, and the report says how many images there were.
#pragma once

#include <cstdint>
#include <string>

#include "data/dataset.h"
#include "experiments/claims/claim.h"

namespace bnlab::claims {

// How much of the data set a claim uses.
struct DataSizes {
    int64_t train_images = 0;       // the first images of the training split after the hold-out (0: all)
    int64_t validation_images = 0;  // the training split's last images, held out for choices (0: none)
    int64_t test_images = 0;        // the first test images (0: all)
};

struct ClaimData {
    std::string dataset;  // its name, e.g. "cifar10"
    std::string folder;   // where the training files were found
    int64_t full_train_size = 0;
    Dataset train, validation, test;

    // For ClaimResult::data: "cifar10 (DIR): training subset = the first 10000 of its 20000
    // training images; validation (learning-rate choice only) = the last 2000; test = 10000 test images"
    std::string description() const;
    // "fashion-mnist: 55000 training images, 5000 validation images (held out from the training
    // split) <what validation does>; 10000 test images for the final numbers"
    std::string held_out_description(const std::string& what_validation_does = "decide") const;
};

// Throws Error when the data set is not found, or when holding out `validation_images` would
// leave fewer than 1000 training images.
ClaimData load_claim_data(const ClaimContext& ctx, const std::string& default_dataset, const DataSizes& sizes);
// The same for a data set a part of a claim always uses, whatever ClaimOptions::dataset says
// (e.g. CIFAR-10 for ResNet-20).
ClaimData load_named_data(const ClaimContext& ctx, const std::string& dataset, const DataSizes& sizes);
// The same for callers without a ClaimContext (e.g. experiments/claims/twins.h): `dataset` by
// name, searched for under `data_dir` first.
ClaimData load_claim_data(const std::string& dataset, const std::string& data_dir, const DataSizes& sizes);

// The base of every claim's experiment class: the context it runs in, its data (loaded here,
// once) and its number of paired seeds for the profile (ClaimOptions::seeds if given).
class Experiment {
protected:
    Experiment(ClaimContext& ctx, const std::string& default_dataset, const DataSizes& sizes, int quick_seeds,
               int full_seeds)
        : ctx_(ctx), data_(load_claim_data(ctx, default_dataset, sizes)), seeds_(ctx.seeds(quick_seeds, full_seeds)) {}
    bool quick() const { return ctx_.quick(); }

    ClaimContext& ctx_;
    const ClaimData data_;
    const int seeds_;
};

}  // namespace bnlab::claims
