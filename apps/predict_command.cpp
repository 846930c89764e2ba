#include "apps/predict_command.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>

#include "apps/cli_common.h"
#include "core/error.h"
#include "core/ops.h"
#include "core/printable.h"
#include "core/tape.h"
#include "data/image_folder.h"
#include "data/loader.h"

namespace bnlab::cli {
namespace {

constexpr int64_t kImagesPerPass = 256;  // bounds the memory of one forward pass

struct PredictArgs {
    std::string model_path;
    std::vector<std::string> images;
    ModelChoice choice;
    std::string dataset, data_dir;  // of a plain state_dict: its input size, classes, normalization
    int64_t top_k = 3;
};

// The k most probable classes of one row of log-probabilities, most probable first; ties go
// to the lower class index, as in argmax_rows.
std::vector<size_t> top_classes(std::span<const float> log_probs, size_t k) {
    std::vector<size_t> order(log_probs.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return log_probs[a] > log_probs[b]; });
    order.resize(std::min(k, order.size()));
    return order;
}

void run_predict(const CLI::App* command, const PredictArgs& args) {
    const SavedModel saved = load_model_file(command, args.model_path, args.choice, args.dataset, {.data_dir = args.data_dir});
    warn_about_model(command, args.model_path, saved);
    std::printf("model %s: %s\n", args.model_path.c_str(), describe(saved).c_str());
    const InputSpec& in = saved.input;

    // Every readable image in the model's layout, concatenated: (N, C, H, W) bytes. An
    // unreadable one is reported now and the others still predicted.
    std::vector<uint8_t> pixels;
    std::vector<std::string> readable;
    for (const std::string& path : args.images) {
        try {
            const std::vector<uint8_t> chw = read_image(path, {in.channels, in.height, in.width});
            pixels.insert(pixels.end(), chw.begin(), chw.end());
            readable.push_back(path);
        } catch (const Error& e) {
            report(command, e.what());
        }
    }

    // Eval mode (BatchNorm's running statistics, no dropout), no tape.
    ModeGuard eval_mode(*saved.model, false);
    NoTape inference;
    const auto count = static_cast<int64_t>(readable.size());
    const size_t image_size = static_cast<size_t>(in.channels * in.height * in.width);
    const size_t classes = saved.class_names.size();
    for (int64_t first = 0; first < count; first += kImagesPerPass) {
        const int64_t n = std::min(kImagesPerPass, count - first);
        // (n, C, H, W) normalized with the model's mean/std -> logits (n, classes) -> log-probabilities.
        const Tensor images = normalize_images(std::span(pixels).subspan(static_cast<size_t>(first) * image_size,
                                                                         static_cast<size_t>(n) * image_size),
                                               in.channels, in.height, in.width, saved.mean, saved.std);
        const Tensor log_probs = log_softmax((*saved.model)(images), 1);
        for (int64_t i = 0; i < n; ++i) {
            const std::span<const float> row(log_probs.data() + static_cast<size_t>(i) * classes, classes);
            std::printf("%s\n", readable[static_cast<size_t>(first + i)].c_str());
            for (size_t k : top_classes(row, static_cast<size_t>(args.top_k)))
                std::printf("  %6.2f%%  %s\n", 100.0 * std::exp(static_cast<double>(row[k])), printable(saved.class_names[k]).c_str());
        }
    }
    const size_t unreadable = args.images.size() - readable.size();
    if (unreadable > 0)
        fail(command, kUsageError, fmt::format("{} of {} images could not be read", unreadable, args.images.size()));
}

}  // namespace
}  // namespace bnlab::cli

void add_predict_command(CLI::App& app) {
    using namespace bnlab::cli;
    CLI::App* cmd = app.add_subcommand("predict", "top-k classes of image files (PNG/JPG/BMP) under a saved model");
    auto args = std::make_shared<PredictArgs>();
    add_model_argument(cmd, args->model_path);
    cmd->add_option("images", args->images,
                    "IMAGE files, converted to the model's input (grey <-> RGB, resized, normalized)");
    cmd->add_option("--top-k", args->top_k, "classes shown per image")->capture_default_str();
    add_model_choice_flags(cmd, args->choice);
    cmd->add_option(flag("dataset"), args->dataset, "a plain state_dict's data set: its input size, classes, normalization")
        ->check(one_of("data set", bnlab::dataset_choices(), bnlab::is_valid_dataset_name));
    cmd->add_option(flag("data_dir"), args->data_dir, "folder searched first for that data set");
    cmd->allow_extras();
    cmd->callback([cmd, args] {
        reject_extras(cmd);
        require_file(cmd, args->model_path, "MODEL");
        if (args->images.empty()) fail(cmd, kUsageError, "missing the IMAGE files to predict (see --help)");
        if (args->top_k < 1) fail(cmd, kUsageError, "--top-k: must be at least 1, got " + std::to_string(args->top_k));
        run_guarded(cmd, [&] { run_predict(cmd, *args); });
    });
}
