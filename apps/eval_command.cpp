#include "apps/eval_command.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <nlohmann/json.hpp>

#include "apps/cli_common.h"
#include "core/atomic_file.h"
#include "core/printable.h"
#include "data/catalog.h"
#include "train/evaluate.h"

namespace bnlab::cli {
namespace {

struct EvalArgs {
    std::string model_path, dataset, split = "test", data_dir, json;
    ModelChoice choice;
    int64_t limit = 0, batch = 500;
    bool partial = false;
};

// Exit code 2 unless `data` holds the images and classes the model was trained on.
void check_fits_model(const CLI::App* command, const Dataset& data, const SavedModel& saved) {
    const InputSpec& in = saved.input;
    if (data.channels != in.channels || data.height != in.height || data.width != in.width)
        fail(command, kUsageError,
             fmt::format("{}: images are {}x{}x{} (C x H x W) but the model takes {}x{}x{}", data.name, data.channels,
                         data.height, data.width, in.channels, in.height, in.width));
    if (data.class_names.size() != saved.class_names.size())
        fail(command, kUsageError, fmt::format("{} has {} classes but the model has {}", data.name,
                                               data.class_names.size(), saved.class_names.size()));
    // Same count, other names (e.g. an MNIST model on Fashion-MNIST): the labels would mean
    // something else and the accuracy would be silently wrong.
    for (size_t k = 0; k < saved.class_names.size(); ++k)
        if (data.class_names[k] != saved.class_names[k])
            fail(command, kUsageError,
                 fmt::format("{} does not have the model's classes: its class {} is '{}', the model's is '{}'",
                             data.name, k, printable(data.class_names[k]), printable(saved.class_names[k])));
}

int64_t row_sum(const std::vector<int64_t>& row) { return std::accumulate(row.begin(), row.end(), int64_t{0}); }

int64_t correct_count(const EvalResult& r) {
    int64_t correct = 0;
    for (size_t k = 0; k < r.confusion.size(); ++k) correct += r.confusion[k][k];
    return correct;
}

std::string channel_values(const std::vector<float>& values) {
    return values.size() == 1 ? fmt::format("{:.4f}", values[0]) : fmt::format("({:.4f})", fmt::join(values, ", "));
}

// Loss and accuracy as metrics.csv writes them ({:.6g}), so the two can be compared by eye.
void print_report(const EvalArgs& args, const SavedModel& saved, const Dataset& data, const EvalResult& r,
                  const std::string& normalization) {
    std::printf("model     %s: %s\n", args.model_path.c_str(), describe(saved).c_str());
    std::printf("data      %s: %s%lld of %lld images, %s\n", data.name.c_str(), r.count < data.size() ? "the first " : "",
                static_cast<long long>(r.count), static_cast<long long>(data.size()), normalization.c_str());
    std::printf("loss      %s\n", fmt::format("{:.6g}", r.loss).c_str());
    std::printf("accuracy  %s (%lld of %lld)\n", fmt::format("{:.6g}", r.accuracy).c_str(),
                static_cast<long long>(correct_count(r)), static_cast<long long>(r.count));

    // Row labels "k  name", padded to the longest class name. The names come from the model
    // file: printed with control characters escaped (core/printable.h).
    std::vector<std::string> names;
    for (const std::string& name : saved.class_names) names.push_back(printable(name));
    size_t name_width = 5;
    for (const std::string& name : names) name_width = std::max(name_width, name.size());
    const size_t classes = names.size();
    const auto row_label = [&](size_t k) { return fmt::format("{:>3}  {:<{}}", k, names[k], name_width); };

    std::printf("\nper-class accuracy\n%s  %7s  %7s  %8s\n", fmt::format("{:>3}  {:<{}}", "k", "class", name_width).c_str(),
                "images", "correct", "accuracy");
    for (size_t k = 0; k < classes; ++k) {
        const std::string accuracy =
            std::isnan(r.per_class_accuracy[k]) ? "-" : fmt::format("{:.1f}%", 100.0 * r.per_class_accuracy[k]);
        std::printf("%s  %7lld  %7lld  %8s\n", row_label(k).c_str(), static_cast<long long>(row_sum(r.confusion[k])),
                    static_cast<long long>(r.confusion[k][k]), accuracy.c_str());
    }

    // Columns as wide as the largest count (or class index), plus a space.
    int64_t largest = static_cast<int64_t>(classes) - 1;
    for (const std::vector<int64_t>& row : r.confusion) largest = std::max(largest, *std::max_element(row.begin(), row.end()));
    const size_t column = fmt::format("{}", largest).size() + 1;
    std::printf("\nconfusion matrix (row: true class, column: predicted class k)\n%s",
                fmt::format("{:>3}  {:<{}}", "k", "class", name_width).c_str());
    for (size_t k = 0; k < classes; ++k) std::printf("%s", fmt::format("{:>{}}", k, column).c_str());
    std::printf("\n");
    for (size_t k = 0; k < classes; ++k) {
        std::printf("%s", row_label(k).c_str());
        for (int64_t v : r.confusion[k]) std::printf("%s", fmt::format("{:>{}}", v, column).c_str());
        std::printf("\n");
    }
}

// The same numbers as JSON, one key per line with its value on that line; per-class values
// are arrays indexed by class (accuracy null for a class without samples).
std::string report_json(const EvalArgs& args, const SavedModel& saved, const Dataset& data, const EvalResult& r) {
    std::vector<int64_t> images, correct;
    for (size_t k = 0; k < r.confusion.size(); ++k) {
        images.push_back(row_sum(r.confusion[k]));
        correct.push_back(r.confusion[k][k]);
    }
    const std::vector<std::pair<std::string, nlohmann::json>> fields = {
        {"model", args.model_path},
        {"dataset", data.name},
        {"count", r.count},
        {"correct", correct_count(r)},
        {"loss", r.loss},
        {"accuracy", r.accuracy},
        {"mean", saved.mean},
        {"std", saved.std},
        {"classes", saved.class_names},
        {"class_images", images},
        {"class_correct", correct},
        {"class_accuracy", r.per_class_accuracy},
        {"confusion", r.confusion}};  // [true class][predicted class]
    std::string text = "{";
    for (size_t i = 0; i < fields.size(); ++i)
        text += fmt::format("{}\n  {}: {}", i ? "," : "", nlohmann::json(fields[i].first).dump(), fields[i].second.dump());
    return text + "\n}\n";
}

void run_eval(const CLI::App* command, const EvalArgs& args) {
    const SavedModel saved = load_model_file(command, args.model_path, args.choice, args.dataset,
                                             {.data_dir = args.data_dir, .allow_partial = args.partial});
    warn_about_model(command, args.model_path, saved);
    const InputSpec& in = saved.input;
    // By default the data the model was trained on, found where training found it.
    const std::string name = args.dataset.empty() ? saved.config.dataset : args.dataset;
    const LoadOptions load{.data_dir = args.data_dir.empty() ? saved.config.data_dir : args.data_dir,
                           .allow_partial = args.partial,
                           .folder_format = {in.channels, in.height, in.width}};
    Dataset data = load_split(command, name, args.split, load);
    check_fits_model(command, data, saved);
    // Normalization: always the model's mean/std (those of its training split). The weights
    // were fitted to inputs mapped by exactly that affine map; a split normalized with its own
    // statistics would reach the model shifted and rescaled, and the accuracy printed would not
    // be the one the model gives in use (predict normalizes with the model's constants too).
    // The named data sets carry the same published constants in both splits, so there this
    // changes nothing; a folder:PATH split has its own statistics (image_folder.h) and here it
    // matters.
    std::string normalization = "normalized with the model's mean " + channel_values(saved.mean) + " std " +
                                channel_values(saved.std);
    if (data.mean != saved.mean || data.std != saved.std)
        normalization += " (the data's own: mean " + channel_values(data.mean) + " std " + channel_values(data.std) + ")";
    data.mean = saved.mean;
    data.std = saved.std;
    const EvalResult result = evaluate(*saved.model, data, args.limit, args.batch);
    print_report(args, saved, data, result, normalization);
    if (!args.json.empty()) {
        write_text_atomically(args.json, report_json(args, saved, data, result));
        std::printf("\nwrote %s\n", args.json.c_str());
    }
}

}  // namespace
}  // namespace bnlab::cli

void add_eval_command(CLI::App& app) {
    using namespace bnlab::cli;
    CLI::App* cmd = app.add_subcommand("eval", "loss, accuracy, per-class accuracy and confusion matrix of a saved model");
    auto args = std::make_shared<EvalArgs>();
    add_model_argument(cmd, args->model_path);
    cmd->add_option(flag("dataset"), args->dataset, "data set (default: the one the model was trained on)")
        ->check(one_of("data set", bnlab::dataset_choices(), bnlab::is_valid_dataset_name));
    cmd->add_option("--split", args->split, "train or test")->capture_default_str();
    cmd->add_option("--data-dir", args->data_dir, "folder searched first (default: the model's training --data-dir)");
    cmd->add_option("--limit", args->limit, "evaluate the first N images (0: all)")->capture_default_str();
    cmd->add_option(flag_names("batch_size"), args->batch, "images per forward pass")->capture_default_str();
    add_model_choice_flags(cmd, args->choice);
    cmd->add_flag("--partial", args->partial, "accept a data set folder missing some files");
    cmd->add_option("--json", args->json, "also write the results to this JSON file");
    cmd->allow_extras();
    cmd->callback([cmd, args] {
        reject_extras(cmd);
        require_file(cmd, args->model_path, "MODEL");
        if (!bnlab::is_valid_split(args->split))
            fail(cmd, kUsageError, "--split: '" + args->split + "' is not train or test");
        if (args->limit < 0) fail(cmd, kUsageError, "--limit: must be 0 (all) or positive");
        if (args->batch <= 0) fail(cmd, kUsageError, flag("batch_size") + ": must be positive");
        run_guarded(cmd, [&] { run_eval(cmd, *args); });
    });
}
