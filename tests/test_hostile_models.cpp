// Issue 17, hostile model files and killed runs: a model file's metadata is checked against
// the memory budget before anything is built, and a run directory is always one whole
// finished run, whenever a run writing it is killed.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <chrono>
#include <random>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/safetensors.h"
#include "models/zoo.h"
#include "tests/data_test_util.h"
#include "tests/synthetic_data.h"
#include "tests/test_util.h"
#include "train/model_file.h"
#include "train/run_recorder.h"
#include "train/trainer.h"

using namespace bnlab;
using namespace bnlab::test;

namespace {

// A tiny mlp on 1x8x8 images with 4 classes, saved as a bnlab model file.
fs::path save_tiny_model(const TempDir& dir) {
    const TrainConfig config = small_config("mlp", "none");
    const InputSpec input{1, 8, 8, 4};
    const fs::path path = dir / "model.safetensors";
    save_model(path.string(), {make_model(config.model, input, 0), config, input, {"a", "b", "c", "d"}, {0.3f}, {0.3f}});
    return path;
}

// The file with one metadata value replaced.
fs::path with_metadata(const fs::path& model, const std::string& key, const std::string& value) {
    TensorFile file = read_safetensors(model.string());
    file.metadata[key] = value;
    const fs::path out = model.parent_path() / ("edited-" + key + ".safetensors");
    write_safetensors(out.string(), file);
    return out;
}

std::string config_with(const fs::path& model, const std::string& field, const nlohmann::json& value) {
    nlohmann::json config = nlohmann::json::parse(read_safetensors(model.string()).metadata.at("bnlab.config"));
    config[field] = value;
    return config.dump();
}

}  // namespace

TEST_CASE("a model file declaring a huge or overflowing model is refused before it is built", "[hostile][model_file]") {
    TempDir dir;
    const fs::path model = save_tiny_model(dir);
    REQUIRE(load_model(model.string()).input.height == 8);

    CHECK_THROWS_WITH(load_model(with_metadata(model, "bnlab.input", "1,4294967296,4294967296").string()),
                      Catch::Contains("the model its metadata declares") && Catch::Contains("overflows 64 bits"));
    CHECK_THROWS_WITH(load_model(with_metadata(model, "bnlab.input", "1,100000,100000").string()),
                      Catch::Contains("more than the memory budget"));
    // A file without a stored spec (written before specs) is built from its config, whose sizes
    // are capped (mlp_width <= 65536); one with a spec from the spec, bounded by
    // models/zoo.h's model_float_count against the memory budget.
    TensorFile without_spec = read_safetensors(model.string());
    without_spec.metadata.erase("bnlab.spec");
    const fs::path old_model = dir / "old.safetensors";
    write_safetensors(old_model.string(), without_spec);
    REQUIRE(load_model(old_model.string()).input.height == 8);
    CHECK_THROWS_WITH(load_model(with_metadata(old_model, "bnlab.config", config_with(model, "mlp_width", 1000000000)).string()),
                      Catch::Contains("mlp_width: must be in [1, 65536], got 1000000000"));
    std::string huge_spec = "flatten";
    for (int i = 0; i < 300; ++i) huge_spec += "-fc65536";
    CHECK_THROWS_WITH(load_model(with_metadata(model, "bnlab.spec", huge_spec + "-fc").string()),
                      Catch::Contains("more than the memory budget"));
    CHECK_THROWS_WITH(load_model(with_metadata(model, "bnlab.input", "1,8").string()), Catch::Contains("bad bnlab.input metadata '1,8'"));
    CHECK_THROWS_WITH(load_model(with_metadata(model, "bnlab.input", "1,99999999999999999999,8").string()),
                      Catch::Contains("bad bnlab.input"));
    // Sizes within the budget that do not match the tensors: the tensors are checked against them.
    CHECK_THROWS_WITH(load_model(with_metadata(model, "bnlab.input", "1,8,9").string()), Catch::Contains("has shape"));
    CHECK_THROWS_WITH(load_model(with_metadata(model, "bnlab.std", "[0.0]").string()),
                      Catch::Contains("bad normalisation for channel 0") && Catch::Contains("finite and positive"));
    CHECK_THROWS_WITH(load_model(with_metadata(model, "bnlab.std", "[-0.3]").string()), Catch::Contains("bad normalisation"));
}

TEST_CASE("a run is written beside its directory and swapped into place when it finishes", "[hostile][run_recorder]") {
    TempDir dir;
    const Dataset train = quadrants(128, 1), test = quadrants(64, 2);
    TrainConfig config = small_config("mlp", "bn");
    config.epochs = 1;
    const std::string run = (dir / "run").string();
    const auto finished_run = [&] {
        Trainer trainer(config, train, test);
        RunRecorder recorder(run, trainer);
        const RunResult result = trainer.run(recorder);
        recorder.finish(result, trainer);
        CHECK(recorder.dir() == run);
    };
    finished_run();
    REQUIRE_FALSE(fs::exists(run + "/" + kRunIncompleteMarker));
    REQUIRE_FALSE(fs::exists(staging_dir(run)));
    REQUIRE(load_model(run + "/model.safetensors").config.lr == 0.05);

    // A second run into the same folder, stopped half-way (no finish()): the first run stays
    // whole in DIR; the new one is in DIR.partial, marked incomplete.
    config.lr = 0.01;
    {
        Trainer trainer(config, train, test);
        RunRecorder recorder(run, trainer);
        CHECK(fs::exists(staging_dir(run) + "/" + kRunIncompleteMarker));
        trainer.run(recorder, 2);
    }
    CHECK(load_model(run + "/model.safetensors").config.lr == 0.05);
    CHECK(nlohmann::json::parse(std::ifstream(run + "/config.json"))["lr"] == 0.05);
    const fs::path stale = staging_dir(run) + "/model.safetensors";
    save_tiny_model(dir);  // a model put by hand into the stopped run's folder is not loaded
    fs::copy_file(dir / "model.safetensors", stale);
    CHECK_THROWS_WITH(load_model(stale.string()), Catch::Contains("is incomplete") && Catch::Contains(kRunIncompleteMarker));

    finished_run();  // removes the stopped run's folder, then replaces the first run
    CHECK_FALSE(fs::exists(staging_dir(run)));
    CHECK_FALSE(fs::exists(run + "/" + kRunIncompleteMarker));
    CHECK(load_model(run + "/model.safetensors").config.lr == 0.01);
    CHECK(nlohmann::json::parse(std::ifstream(run + "/config.json"))["lr"] == 0.01);
}

namespace {

std::string file_text(const fs::path& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("kill -9 at 100 random points of bnlab train: the run directory is the old or the new finished run",
          "[hostile][run_recorder][cli]") {
    TempDir dir;
    write_tiny_mnist(dir / "data", 400, 40);
    const fs::path run = dir / "run";
    // Seed s makes a run distinguishable from the others by its config.json.
    const auto train_command = [&](int seed) {
        return fmt::format("env -u BNLAB_DATA '{}' train --dataset mnist --data-dir '{}' --model mlp --batch 8 --epochs 2 "
                           "--eval-every 5 --threads 1 --seed {} --force --out '{}'",
                           BNLAB_BINARY, (dir / "data").string(), seed, run.string());
    };
    const auto start = std::chrono::steady_clock::now();
    const CommandResult first = run_shell(train_command(0));
    REQUIRE(first.exit_code == 0);
    const double full_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    int finished_seed = 0, old_runs = 0, new_runs = 0;
    std::mt19937 random(17);
    std::uniform_real_distribution<double> kill_at(0.0, 1.6 * full_seconds);
    for (int attempt = 1; attempt <= 100; ++attempt) {
        const double delay = kill_at(random);
        const CommandResult killed = run_shell(fmt::format("timeout -s KILL {:.4f} {}", delay, train_command(attempt)));
        INFO("attempt " << attempt << ": killed after " << delay << " s of " << full_seconds << ", exit " << killed.exit_code);
        // DIR holds one whole finished run: no marker, a model whose config is config.json's,
        // a log that ends with the run's last line, metrics of that run.
        REQUIRE_FALSE(fs::exists(run / kRunIncompleteMarker));
        const nlohmann::json config = nlohmann::json::parse(file_text(run / "config.json"));
        const SavedModel saved = load_model((run / "model.safetensors").string());
        CHECK(to_json(saved.config) == config);
        CHECK(file_text(run / "train.log").find("finished") != std::string::npos);
        CHECK(file_text(run / "metrics.csv").find("\n") != std::string::npos);
        const int seed = config["seed"].get<int>();
        REQUIRE((seed == finished_seed || seed == attempt));
        (seed == attempt ? new_runs : old_runs)++;
        finished_seed = seed;
    }
    INFO(old_runs << " kills left the previous run, " << new_runs << " the new finished one");
    CHECK(old_runs > 0);
    CHECK(new_runs > 0);
}
