// `bnlab eval` and `bnlab predict` through the built binary, on an mlp with BatchNorm that
// `bnlab train` trains on Fashion-MNIST (Debian's dataset-fashion-mnist in
// /usr/share/datasets/fashion-mnist, installed by `make deps`: without it these tests fail).
#include <stb/stb_image_write.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <fmt/format.h>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/ops.h"
#include "core/tape.h"
#include "data/catalog.h"
#include "data/loader.h"
#include "data_test_util.h"
#include "train/evaluate.h"
#include "train/model_file.h"

using namespace bnlab;
using namespace bnlab::test;

namespace {

constexpr int64_t kTestLimit = 1000;  // test images train evaluates on (and eval --limit)

std::string quoted(const fs::path& path) { return fmt::format("'{}'", path.string()); }

// Trains an mlp with BN on 3000 Fashion-MNIST images for 2 epochs (1 thread: about a second)
// into dir/run; returns the run directory.
fs::path train_mlp(const TempDir& dir) {
    const fs::path run = dir / "run";
    const CommandResult train =
        run_bnlab(fmt::format("train --model mlp --norm bn --limit 3000 --test-limit {} --epochs 2 --lr 0.1 "
                              "--threads 1 --out {}",
                              kTestLimit, quoted(run)));
    INFO(train.output);
    REQUIRE(train.exit_code == 0);
    return run;
}

// The last row of metrics.csv as column name -> text, exactly as written.
std::map<std::string, std::string> last_metrics_row(const fs::path& run) {
    std::ifstream in(run / "metrics.csv");
    std::string header, line, last;
    std::getline(in, header);
    while (std::getline(in, line))
        if (!line.empty()) last = line;
    std::map<std::string, std::string> row;
    std::istringstream names(header), values(last);
    std::string name, value;
    while (std::getline(names, name, ',') && std::getline(values, value, ',')) row[name] = value;
    return row;
}

// One row of predict's output: "  12.34%  class name".
struct Prediction {
    double percent;
    std::string class_name;
};

// predict's output as image path -> its top-k rows, most probable first.
std::map<std::string, std::vector<Prediction>> parse_predictions(const std::string& output) {
    std::map<std::string, std::vector<Prediction>> out;
    std::istringstream lines(output);
    std::string line, image;
    while (std::getline(lines, line)) {
        const size_t percent = line.find("%  ");
        if (line.starts_with("  ") && percent != std::string::npos && !image.empty())
            out[image].push_back({std::stod(line.substr(0, percent)), line.substr(percent + 3)});
        else
            image = line;
    }
    return out;
}

// Writes test image `i` ((1, 28, 28) bytes) as a PNG, an RGB PNG (grey in all three
// channels), a BMP, or (scale 2) an RGB PNG of 56x56 with every pixel doubled.
fs::path write_image(const fs::path& dir, const Dataset& data, int64_t i, const std::string& kind) {
    const std::span<const uint8_t> grey = data.image(i);
    const int scale = kind == "png-56" ? 2 : 1, size = 28 * scale;
    std::vector<uint8_t> rgb;
    for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x) rgb.insert(rgb.end(), 3, grey[static_cast<size_t>(y / scale * 28 + x / scale)]);
    const fs::path path = dir / fmt::format("image{}-{}.{}", i, kind, kind == "bmp" ? "bmp" : "png");
    int ok = 0;
    if (kind == "png") ok = stbi_write_png(path.c_str(), 28, 28, 1, grey.data(), 28);
    if (kind == "bmp") ok = stbi_write_bmp(path.c_str(), 28, 28, 1, grey.data());
    if (kind == "png-rgb" || kind == "png-56") ok = stbi_write_png(path.c_str(), size, size, 3, rgb.data(), size * 3);
    REQUIRE(ok != 0);
    return path;
}

// An untrained mlp saved as a bnlab model file: enough for the usage errors.
fs::path untrained_model(const TempDir& dir) {
    TrainConfig config;
    config.model.arch = "mlp";
    const InputSpec input;  // 1x28x28, 10 classes
    const fs::path path = dir / "untrained.safetensors";
    save_model(path, {make_model(config.model, input, 0), config, input,
                      load_dataset("fashion-mnist", "test").class_names, {0.2860f}, {0.3530f}});
    return path;
}

}  // namespace

TEST_CASE("bnlab eval reproduces the test accuracy bnlab train logged", "[cli][eval]") {
    TempDir dir;
    const fs::path run = train_mlp(dir);
    const std::map<std::string, std::string> logged = last_metrics_row(run);
    const fs::path json = dir / "eval.json";
    const CommandResult eval =
        run_bnlab(fmt::format("eval {} --limit {} --json {}", quoted(run / "model.safetensors"), kTestLimit, quoted(json)));
    INFO(eval.output);
    REQUIRE(eval.exit_code == 0);
    // Same model, same 1000 images, eval mode: the very numbers metrics.csv holds ({:.6g}).
    CHECK_THAT(eval.output, Catch::Contains("accuracy  " + logged.at("test_accuracy") + " (") &&
                                Catch::Contains("loss      " + logged.at("test_loss") + "\n") &&
                                Catch::Contains("fashion-mnist/test: the first 1000 of 10000 images") &&
                                Catch::Contains("per-class accuracy") && Catch::Contains("Ankle boot") &&
                                Catch::Contains("confusion matrix"));
    CHECK(std::stod(logged.at("test_accuracy")) > 0.7);  // the model learned something

    const nlohmann::json report = nlohmann::json::parse(read_bytes(json));
    CHECK(report.at("count") == kTestLimit);
    CHECK(fmt::format("{:.6g}", report.at("accuracy").get<double>()) == logged.at("test_accuracy"));
    CHECK(fmt::format("{:.6g}", report.at("loss").get<double>()) == logged.at("test_loss"));
    // The confusion matrix adds up: all images in it, correct ones on the diagonal, rows per class.
    const auto confusion = report.at("confusion").get<std::vector<std::vector<int64_t>>>();
    REQUIRE(confusion.size() == 10);
    int64_t total = 0, diagonal = 0;
    for (size_t k = 0; k < 10; ++k) {
        const int64_t row = std::accumulate(confusion[k].begin(), confusion[k].end(), int64_t{0});
        CHECK(row == report.at("class_images")[k]);
        CHECK(confusion[k][k] == report.at("class_correct")[k]);
        total += row;
        diagonal += confusion[k][k];
    }
    CHECK(total == kTestLimit);
    CHECK(diagonal == report.at("correct"));
    CHECK(static_cast<double>(diagonal) / kTestLimit == report.at("accuracy").get<double>());

    // Without --limit: the whole split; --split train: the training images.
    const CommandResult all = run_bnlab("eval " + quoted(run / "model.safetensors"));
    CHECK(all.exit_code == 0);
    CHECK_THAT(all.output, Catch::Contains("fashion-mnist/test: 10000 of 10000 images"));
    const CommandResult train_split = run_bnlab("eval " + quoted(run / "model.safetensors") + " --split train --limit 500");
    CHECK(train_split.exit_code == 0);
    CHECK_THAT(train_split.output, Catch::Contains("fashion-mnist/train: the first 500 of 60000 images"));
}

TEST_CASE("normalize_images gives the DataLoader's batch bit for bit", "[data][loader]") {
    const Dataset test = load_dataset("fashion-mnist", "test");
    constexpr int64_t count = 7;
    DataLoader loader(test, {.batch_size = count, .shuffle = false, .limit = count, .prefetch = false});
    loader.start_epoch(0);
    Batch batch;
    REQUIRE(loader.next(batch));
    const Tensor images = normalize_images(std::span(test.pixels).first(static_cast<size_t>(count * test.image_size())),
                                           1, 28, 28, test.mean, test.std);
    REQUIRE(images.shape() == batch.images.shape());
    CHECK(std::equal(images.values().begin(), images.values().end(), batch.images.values().begin()));
    CHECK_THROWS_WITH(normalize_images(std::span(test.pixels).first(100), 1, 28, 28, test.mean, test.std),
                      Catch::Contains("100 bytes are not whole images of 1x28x28"));
    CHECK_THROWS_WITH(normalize_images(std::span(test.pixels).first(784), 3, 28, 28, test.mean, test.std),
                      Catch::Contains("not whole images"));
    CHECK_THROWS_WITH(normalize_images(std::span(test.pixels).first(784), 1, 28, 28, {}, {}),
                      Catch::Contains("one value per channel"));
}

TEST_CASE("bnlab predict gives a trained model's own class for image files", "[cli][predict]") {
    TempDir dir;
    const fs::path model_path = train_mlp(dir) / "model.safetensors";
    const Dataset test = load_dataset("fashion-mnist", "test");

    // In process, as eval computes them: log-probabilities of the first 24 test images.
    constexpr int64_t count = 24;
    const SavedModel saved = load_model(model_path);
    DataLoader loader(test, {.batch_size = count, .shuffle = false, .limit = count, .prefetch = false});
    loader.start_epoch(0);
    Batch batch;
    REQUIRE(loader.next(batch));
    Tensor log_probs;
    {
        NoTape inference;
        log_probs = log_softmax((*saved.model)(batch.images), 1);  // (24, 10)
    }
    const std::vector<int32_t> expected = argmax_rows(log_probs);

    // The same images as files: grey PNG, RGB PNG and grey BMP in turn (all lossless, so
    // the model sees the same pixels), plus image 0 enlarged to 56x56 (resized back to 28x28).
    const std::vector<std::string> kinds = {"png", "png-rgb", "bmp"};
    std::vector<fs::path> files;
    std::string args;
    for (int64_t i = 0; i < count; ++i) {
        files.push_back(write_image(dir.path(), test, i, kinds[static_cast<size_t>(i) % kinds.size()]));
        args += fmt::format(" {}", quoted(files.back()));
    }
    const fs::path enlarged = write_image(dir.path(), test, 0, "png-56");
    const CommandResult predict = run_bnlab("predict " + quoted(model_path) + args + " " + quoted(enlarged));
    INFO(predict.output);
    REQUIRE(predict.exit_code == 0);
    const std::map<std::string, std::vector<Prediction>> predicted = parse_predictions(predict.output);

    int matches_label = 0;
    for (int64_t i = 0; i < count; ++i) {
        INFO(files[static_cast<size_t>(i)]);
        REQUIRE(predicted.count(files[static_cast<size_t>(i)].string()) == 1);
        const std::vector<Prediction>& top = predicted.at(files[static_cast<size_t>(i)].string());
        REQUIRE(top.size() == 3);  // --top-k 3 by default
        const size_t k = static_cast<size_t>(expected[static_cast<size_t>(i)]);
        CHECK(top[0].class_name == saved.class_names[k]);
        const double percent = 100.0 * std::exp(static_cast<double>(log_probs.data()[i * 10 + static_cast<int64_t>(k)]));
        CHECK(top[0].percent == Approx(percent).margin(0.0051));
        CHECK(top[0].percent >= top[1].percent);
        CHECK(top[1].percent >= top[2].percent);
        matches_label += top[0].class_name == test.class_names[static_cast<size_t>(test.labels[static_cast<size_t>(i)])];
    }
    CHECK(matches_label >= 2 * count / 3);  // mostly the true class (test accuracy is about 0.77)
    REQUIRE(predicted.count(enlarged.string()) == 1);
    CHECK(predicted.at(enlarged.string())[0].class_name == saved.class_names[static_cast<size_t>(expected[0])]);

    // --top-k 10: every class once, probabilities summing to 100%.
    const CommandResult all_classes = run_bnlab("predict " + quoted(model_path) + " " + quoted(files[0]) + " --top-k 10");
    REQUIRE(all_classes.exit_code == 0);
    const std::vector<Prediction> all = parse_predictions(all_classes.output).at(files[0].string());
    REQUIRE(all.size() == 10);
    double sum = 0;
    for (const Prediction& p : all) sum += p.percent;
    CHECK(sum == Approx(100.0).margin(0.06));
}

TEST_CASE("bnlab eval and predict report bad usage and bad files", "[cli][eval][predict]") {
    TempDir dir;
    const fs::path model = untrained_model(dir);
    const std::string m = quoted(model);
    const fs::path image = write_image(dir.path(), load_dataset("fashion-mnist", "test"), 0, "png");
    write_bytes(dir / "notes.txt", {'h', 'e', 'l', 'l', 'o'});
    write_bytes(dir / "text.png", {'h', 'e', 'l', 'l', 'o'});
    const auto check = [](const std::string& args, int code, const std::string& message) {
        const CommandResult result = run_bnlab(args);
        INFO("bnlab " << args << "\n" << result.output);
        CHECK(result.exit_code == code);
        CHECK_THAT(result.output, Catch::Contains(message));
    };
    const fs::path missing = dir / "missing.safetensors";
    check("eval", 2, "bnlab eval: missing the MODEL argument");
    check("eval " + quoted(missing), 2, "bnlab eval: MODEL " + quoted(missing) + ": no such file");
    check("eval " + quoted(dir.path()), 2, "MODEL " + quoted(dir.path()) + ": not a file");
    check("eval " + quoted(dir / "notes.txt"), 1, (dir / "notes.txt").string() + ": ");
    check("eval " + m + " --bogus", 2, "bnlab eval: unknown option '--bogus'");
    check("eval " + m + " --split validation", 2, "--split: 'validation' is not train or test");
    check("eval " + m + " --dataset imagenet", 2, "--dataset: unknown data set 'imagenet'");
    check("eval " + m + " --batch 0", 2, "--batch-size: must be positive");
    check("eval " + m + " --json " + quoted(dir / "no/such/dir/out.json"), 1, (dir / "no/such/dir/out.json").string());

    // Data sets that do not fit the model: 4x3 images, then 28x28 ones with other classes.
    const TinyIdx tiny = tiny_idx(5);
    write_gzip(dir / "small/mnist/t10k-images-idx3-ubyte.gz", tiny.images);
    write_gzip(dir / "small/mnist/t10k-labels-idx1-ubyte.gz", tiny.labels);
    check("eval " + m + " --dataset mnist --data-dir " + quoted(dir / "small"), 2,
          "mnist/test: images are 1x4x3 (C x H x W) but the model takes 1x28x28");
    write_gzip(dir / "digits/mnist/t10k-images-idx3-ubyte.gz", idx_bytes({5, 28, 28}, std::vector<uint8_t>(5 * 784, 9)));
    write_gzip(dir / "digits/mnist/t10k-labels-idx1-ubyte.gz", tiny.labels);
    check("eval " + m + " --dataset mnist --data-dir " + quoted(dir / "digits"), 2,
          "mnist/test does not have the model's classes: its class 0 is '0', the model's is 'T-shirt/top'");

    check("predict", 2, "bnlab predict: missing the MODEL argument");
    check("predict " + m, 2, "bnlab predict: missing the IMAGE files");
    check("predict " + quoted(missing) + " " + quoted(image), 2, "MODEL " + quoted(missing) + ": no such file");
    check("predict " + quoted(dir / "notes.txt") + " " + quoted(image), 1, (dir / "notes.txt").string() + ": ");
    check("predict " + m + " " + quoted(image) + " --top-k 0", 2, "--top-k: must be at least 1, got 0");
    check("predict " + m + " --bogus " + quoted(image), 2, "bnlab predict: unknown option '--bogus'");
    check("predict " + m + " " + quoted(dir / "nope.png"), 2, (dir / "nope.png").string() + ": cannot read image: no such file");
    check("predict " + m + " " + quoted(dir / "text.png"), 2, (dir / "text.png").string() + ": cannot read image: ");
    // An unreadable image among readable ones: the others are still predicted, the exit code is 2.
    const CommandResult mixed = run_bnlab("predict " + m + " " + quoted(dir / "nope.png") + " " + quoted(image));
    CHECK(mixed.exit_code == 2);
    CHECK(parse_predictions(mixed.output).count(image.string()) == 1);
    CHECK_THAT(mixed.output, Catch::Contains("bnlab predict: 1 of 2 images could not be read"));
}
