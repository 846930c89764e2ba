// Issue 17, hostile model files and killed runs: a model file's metadata is checked against
// the memory budget before anything is built, and a run directory is never taken for a
// finished run while a run is writing it or after it was killed half-way.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/safetensors.h"
#include "models/zoo.h"
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

TEST_CASE("a run directory is marked incomplete until the run finishes", "[hostile][run_recorder]") {
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
    };
    finished_run();
    REQUIRE_FALSE(fs::exists(run + "/" + kRunIncompleteMarker));
    REQUIRE(load_model(run + "/model.safetensors").class_names.size() == 4);

    // A second run into the same folder, stopped half-way (no finish()): never a mix.
    config.lr = 0.01;
    {
        Trainer trainer(config, train, test);
        RunRecorder recorder(run, trainer);
        CHECK(fs::exists(run + "/" + kRunIncompleteMarker));
        CHECK_FALSE(fs::exists(run + "/model.safetensors"));  // the previous run's model is gone
        trainer.run(recorder, 2);
    }
    const fs::path stale = dir / "run/model.safetensors";
    save_tiny_model(dir);  // even a model put there by hand is not loaded from an unfinished run
    fs::copy_file(dir / "model.safetensors", stale);
    CHECK_THROWS_WITH(load_model(stale.string()),
                      Catch::Contains("is incomplete") && Catch::Contains(kRunIncompleteMarker));
    finished_run();
    CHECK_FALSE(fs::exists(run + "/" + kRunIncompleteMarker));
    CHECK(load_model(stale.string()).config.lr == 0.01);
}

TEST_CASE("kill -9 at random points of bnlab train never leaves a run that passes for finished", "[hostile][run_recorder][cli]") {
    TempDir dir;
    const fs::path run = dir / "run";
    const std::string train_command =
        fmt::format("'{}' train --dataset fashion-mnist --model mlp --limit 2000 --test-limit 500 --epochs 6 "
                    "--eval-every 10 --threads 1 --force --out '{}'", BNLAB_BINARY, run.string());
    const auto start = std::chrono::steady_clock::now();
    REQUIRE(run_shell(train_command).exit_code == 0);
    const double full_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const std::string finished_config = read_safetensors((run / "model.safetensors").string()).metadata.at("bnlab.config");
    int incomplete = 0, finished = 0;
    // Kills spread over the run (data loading comes first, so most land late in it).
    for (const double fraction : {0.2, 0.5, 0.65, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0, 1.1}) {
        const double delay = fraction * full_seconds;
        const CommandResult killed = run_shell(fmt::format("timeout -s KILL {:.3f} {}", delay, train_command));
        INFO("killed after " << delay << " s: exit " << killed.exit_code);
        if (fs::exists(run / kRunIncompleteMarker)) {
            ++incomplete;
            CHECK_THROWS_WITH(load_model((run / "model.safetensors").string()), Catch::Contains("is incomplete"));
        } else {
            ++finished;  // the old run (killed before the marker was written) or the new one, finished
            const SavedModel saved = load_model((run / "model.safetensors").string());
            const std::string config_json = [&] {
                std::ifstream in(run / "config.json");
                return std::string(std::istreambuf_iterator<char>(in), {});
            }();
            CHECK(nlohmann::json::parse(config_json) == nlohmann::json::parse(finished_config));
        }
    }
    INFO(incomplete << " killed runs were marked incomplete, " << finished << " were finished runs");
    CHECK(incomplete > 0);
}
