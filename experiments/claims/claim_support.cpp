#include "experiments/claims/claim_support.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "data/catalog.h"
#include "experiments/claims/markdown.h"

namespace bnlab::claims {

PairedEffect paired_effect(std::span<const double> per_seed) {
    std::vector<double> measured;
    for (double v : per_seed)
        if (std::isfinite(v)) measured.push_back(v);
    return {mean_of(measured), bootstrap_mean_ci(measured)};
}

ClaimData load_claim_data(const ClaimContext& ctx, const std::string& default_dataset, const DataSizes& sizes) {
    const std::string dataset = ctx.dataset(default_dataset);
    const LoadOptions load{.data_dir = ctx.options().data_dir, .allow_partial = true};
    const Dataset full = load_dataset(dataset, "train", load);
    const int64_t cut = full.size() - sizes.validation_images;
    if (cut < 1000)
        throw Error(fmt::format("{}: {} training images are too few to hold out {} for validation", dataset,
                                full.size(), sizes.validation_images));
    const int64_t train = std::min(sizes.train_images, cut);
    const Dataset test = load_dataset(dataset, "test", load);
    const int64_t test_images = sizes.test_images > 0 ? std::min(sizes.test_images, test.size()) : test.size();
    const std::string folder = full.files.empty() ? "" : std::filesystem::path(full.files.front()).parent_path().string();
    return {dataset, folder, full.size(), subset(full, 0, train, fmt::format("{}[:{}]", full.name, train)),
            subset(full, cut, full.size(), full.name + "[validation]"), subset(test, 0, test_images, test.name)};
}

std::string ClaimData::description() const {
    return fmt::format("{} ({}): training subset = the first {} of its {} training images; validation "
                       "(learning-rate choice only) = the last {}; test = {} test images",
                       dataset, folder, train.size(), full_train_size, validation.size(), test.size());
}

TrainConfig sgd_config(const Dataset& train, const std::string& arch, const std::string& norm, double lr,
                       int64_t batch, int64_t epochs, uint64_t seed) {
    TrainConfig c;
    c.dataset = train.name;
    c.model.arch = arch;
    c.model.norm = norm;
    c.optimizer = "sgd";
    c.momentum = 0.9;
    c.weight_decay = 0.0;
    c.lr = lr;
    c.batch_size = batch;
    c.epochs = epochs;
    c.eval_every = 0;  // once per epoch
    c.seed = seed;
    return c;
}

double best_lr_on_validation(ClaimContext& ctx, const std::string& label, const std::vector<double>& grid,
                             const std::function<TrainConfig(double lr)>& config_at, const ClaimData& data,
                             Table& table) {
    double best_lr = grid.front(), best = -1;
    for (double lr : grid) {
        const TrainedRun run =
            ctx.train(fmt::format("sweep-{}-lr{}", label, lr), config_at(lr), data.train, data.validation);
        const double accuracy = run.result.diverged ? -1 : run.result.last.test_accuracy;
        table.rows.push_back({label, number(lr, 4), accuracy < 0 ? "diverged" : number(100 * accuracy, 2) + "%"});
        if (accuracy > best) {
            best = accuracy;
            best_lr = lr;
        }
    }
    return best_lr;
}

double eval_accuracy(Trainer& trainer, const Dataset& data, int64_t limit) {
    const SavedModel saved = trainer.saved_model();  // for the training images' normalization
    return evaluate(trainer.model(), data, limit, 500, saved.mean, saved.std).accuracy;
}

std::string effect_cell(const PairedEffect& effect, double scale, int digits) {
    const auto signed_number = [&](double v) { return fmt::format("{}{}", v > 0 ? "+" : "", number(scale * v, digits)); };
    return fmt::format("{} [{}, {}]", signed_number(effect.mean), signed_number(effect.ci.low),
                       signed_number(effect.ci.high));
}

std::vector<double> differences(std::span<const double> a, std::span<const double> b) {
    std::vector<double> out;
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) out.push_back(a[i] - b[i]);
    return out;
}

}  // namespace bnlab::claims
