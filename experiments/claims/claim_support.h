// Helpers shared by the regularization and batch-size claims: where to find data, accuracy
// in eval mode, per-seed effects as table cells, and curves of per-seed values for plots.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "experiments/claims/claims.h"
#include "experiments/claims/markdown.h"
#include "experiments/plot.h"

namespace bnlab::claims {

// A claim's data: the first `train_images` training images (fewer if the split is short), the
// split's last `validation_images` (for choosing learning rates only), and the first
// `test_images` test images (0: all). Loaded from --data-dir (else the claim's default data folder), CIFAR-10 with only some
// of its batches too.
struct DataSizes {
    int64_t train_images, validation_images, test_images;
};
struct ClaimData {
    std::string dataset, folder;  // folder: where the training files were found
    int64_t full_train_size = 0;
    Dataset train, validation, test;
    std::string description() const;  // for ClaimResult::data
};
// The data set is --dataset, else `default_dataset`.
ClaimData load_claim_data(const ClaimContext& ctx, const std::string& default_dataset, const DataSizes& sizes);

// SGD with momentum 0.9 and no weight decay (pitfall 2: weight decay interacts with BN's
// scale invariance), constant learning rate, evaluated once per epoch.
TrainConfig sgd_config(const Dataset& train, const std::string& arch, const std::string& norm, double lr,
                       int64_t batch, int64_t epochs, uint64_t seed);

// A learning-rate sweep on seed 0: trains config_at(lr) for each lr of `grid` on data.train,
// evaluated on data.validation; adds a row (label, lr, final validation accuracy or
// "diverged") to `table` per run and returns the lr with the best validation accuracy.
double best_lr_on_validation(ClaimContext& ctx, const std::string& label, const std::vector<double>& grid,
                             const std::function<TrainConfig(double lr)>& config_at, const ClaimData& data,
                             Table& table);

// Accuracy (0..1) of `model` on the first `limit` images of `data` (0: all), in eval mode,
// normalized as the model's training images were.
double eval_accuracy(Trainer& trainer, const Dataset& data, int64_t limit = 0);

// "+1.23 [0.50, 2.10]": a paired effect's mean and 95% CI, times `scale`, with a sign.
std::string effect_cell(const PairedEffect& effect, double scale = 1.0, int digits = 2);

// Per-seed a[i] - b[i].
std::vector<double> differences(std::span<const double> a, std::span<const double> b);

}  // namespace bnlab::claims
