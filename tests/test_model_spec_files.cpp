// A model written as a spec goes through model files and trainer checkpoints: eval and predict
// rebuild it from the file alone.
#include <catch2/catch.hpp>

#include "core/safetensors.h"
#include "tests/synthetic_data.h"
#include "tests/test_util.h"
#include "train/model_file.h"
#include "train/trainer.h"

using namespace bnlab;
using bnlab::test::TempDir;

namespace {

const std::string kResidualSpec = "conv8-norm-relu-basic8-basic16s2-gap-dropout-fc";

TrainConfig spec_config() {
    TrainConfig c = bnlab::test::small_config(kResidualSpec, "bn");
    c.model.dropout = 0.2f;
    c.steps = 6;
    return c;
}

std::vector<std::vector<float>> values(const Module& m) {
    std::vector<std::vector<float>> out;
    for (const auto& [name, t] : m.state_dict().f32) out.push_back(t.to_vector());
    return out;
}

}  // namespace

TEST_CASE("a spec model round-trips through a model file and a checkpoint", "[models][spec][checkpoint]") {
    const Dataset train = bnlab::test::quadrants(128, 1), test = bnlab::test::quadrants(32, 2);
    TempDir dir;
    const TrainConfig config = spec_config();
    Trainer trainer(config, train, test);
    struct : TrainObserver {
    } quiet;
    trainer.run(quiet, 3);
    const std::string checkpoint = (dir / "checkpoint.safetensors").string();
    trainer.save_checkpoint(checkpoint);
    trainer.run(quiet);

    // The checkpoint rebuilds the spec's network from the config and continues bit for bit.
    Trainer resumed(config, train, test);
    resumed.load_checkpoint(checkpoint);
    resumed.run(quiet);
    CHECK(values(resumed.model()) == values(trainer.model()));

    // The model file stores the resolved spec; loading rebuilds the same network and weights.
    const std::string path = (dir / "model.safetensors").string();
    save_model(path, trainer.saved_model());
    const TensorFile file = read_safetensors(path);
    CHECK(file.metadata.at("bnlab.spec") ==
          "conv8-bn-relu-res(conv8-bn-relu-conv8-bn)-relu-res(conv16s2-bn-relu-conv16-bn)-relu-gap-dropout0.2-fc");
    const SavedModel loaded = load_model(path);
    CHECK(loaded.config.model.arch == kResidualSpec);
    CHECK(values(*loaded.model) == values(trainer.model()));
    CHECK(loaded.model->named_modules().size() == trainer.model().named_modules().size());

    // The stored spec, not the config's model field, decides the network.
    TensorFile altered = file;
    nlohmann::json saved_config = nlohmann::json::parse(file.metadata.at("bnlab.config"));
    saved_config["model"] = "mlp";
    altered.metadata["bnlab.config"] = saved_config.dump();
    const std::string altered_path = (dir / "altered.safetensors").string();
    write_safetensors(altered_path, altered);
    CHECK(values(*load_model(altered_path).model) == values(trainer.model()));
    // A stored spec that does not build is an error naming the file.
    altered.metadata["bnlab.spec"] = "conv8-cnv8-fc";
    write_safetensors(altered_path, altered);
    CHECK_THROWS_WITH(load_model(altered_path), Catch::Contains(altered_path + ": cannot rebuild its model: model: spec position 7: unknown layer 'cnv8'"));
}
