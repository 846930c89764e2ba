// The training engine on a small synthetic data set: learning, determinism, exact resume,
// divergence, and the memory pool's steady state.
#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>

#include "core/error.h"
#include "core/memory_pool.h"
#include "core/ops.h"
#include "core/profiler.h"
#include "core/tape.h"
#include "train/trainer.h"
#include "models/zoo.h"
#include "optim/sgd.h"
#include "tests/synthetic_data.h"

using namespace bnlab;
using bnlab::test::quadrants;
using bnlab::test::small_config;

namespace {

const Dataset& train_set() {
    static const Dataset d = quadrants(512, 1);
    return d;
}
const Dataset& test_set() {
    static const Dataset d = quadrants(256, 2);
    return d;
}

struct Silent : TrainObserver {
    std::vector<MetricsRow> rows;
    void on_row(const MetricsRow& r) override { rows.push_back(r); }
};

std::vector<std::vector<float>> weights(Trainer& t) {
    std::vector<std::vector<float>> out;
    for (const auto& [name, p] : t.model().state_dict().f32) out.push_back(p.to_vector());
    return out;
}

std::string temp_path(const std::string& name) {
    return (std::filesystem::temp_directory_path() / ("bnlab_test_" + name)).string();
}

}  // namespace

TEST_CASE("the trainer learns a simple task and evaluates it", "[trainer]") {
    for (const std::string norm : {"none", "bn"}) {
        INFO("norm " << norm);
        Trainer trainer(small_config("mnist-cnn", norm), train_set(), test_set());
        Silent observer;
        const RunResult r = trainer.run(observer);
        CHECK_FALSE(r.diverged);
        CHECK(r.steps == 32);  // 512 / 32 per epoch, 2 epochs
        REQUIRE(observer.rows.size() == 4);
        CHECK(observer.rows.back().step == 32);
        CHECK(observer.rows.back().test_accuracy > 0.9);
        CHECK(observer.rows.back().grad_norms.size() == trainer.grad_norm_names().size());
        CHECK(r.last.test_accuracy == observer.rows.back().test_accuracy);
    }
}

TEST_CASE("two runs with the same seed are bit-identical, another seed differs", "[trainer][determinism]") {
    const auto run = [](uint64_t seed) {
        TrainConfig c = small_config("mnist-cnn", "bn");
        c.seed = seed;
        c.model.dropout = 0.2f;
        Trainer t(c, train_set(), test_set());
        Silent s;
        t.run(s);
        std::vector<double> losses;
        for (const auto& r : s.rows) losses.insert(losses.end(), {r.train_loss, r.test_loss, r.test_accuracy});
        return std::make_pair(losses, weights(t));
    };
    const auto a = run(7), b = run(7), c = run(8);
    CHECK(a.first == b.first);
    CHECK(a.second == b.second);
    CHECK(a.second != c.second);
}

TEST_CASE("a run resumed from a checkpoint at step k reaches the same bits at step 2k", "[trainer][checkpoint]") {
    for (const std::string optimizer : {"sgd", "adam"}) {
        INFO("optimizer " << optimizer);
        TrainConfig c = small_config("mnist-cnn", "bn");
        c.optimizer = optimizer;
        c.lr = optimizer == "sgd" ? 0.05 : 0.002;
        c.model.dropout = 0.3f;  // dropout's generator must resume too
        c.schedule = "cosine";
        c.eval_every = 5;       // the checkpoint falls mid-window and mid-epoch (16 steps per epoch)
        const int64_t k = 13;

        Trainer straight(c, train_set(), test_set());
        Silent s1;
        straight.run(s1, 2 * k);

        const std::string path = temp_path("resume.safetensors");
        Silent s2;
        {
            Trainer first(c, train_set(), test_set());
            first.run(s2, k);
            first.save_checkpoint(path);
        }
        Trainer resumed(c, train_set(), test_set());
        resumed.load_checkpoint(path);
        CHECK(resumed.step() == k);
        resumed.run(s2, 2 * k);
        CHECK(weights(resumed) == weights(straight));
        CHECK(resumed.model().state_dict().i64.at("1.num_batches_tracked").values ==
              straight.model().state_dict().i64.at("1.num_batches_tracked").values);
        REQUIRE(s2.rows.size() == s1.rows.size());
        for (size_t i = 0; i < s1.rows.size(); ++i) {
            CHECK(s2.rows[i].train_loss == s1.rows[i].train_loss);
            CHECK(s2.rows[i].test_accuracy == s1.rows[i].test_accuracy);
        }
        std::filesystem::remove(path);
    }
}

TEST_CASE("a checkpoint from another config is refused", "[trainer][checkpoint]") {
    const std::string path = temp_path("other.safetensors");
    Trainer a(small_config("mnist-cnn", "bn"), train_set(), test_set());
    a.save_checkpoint(path);
    Trainer b(small_config("mnist-cnn", "none"), train_set(), test_set());
    CHECK_THROWS_WITH(b.load_checkpoint(path), Catch::Contains("another config"));
    std::filesystem::remove(path);
}

TEST_CASE("a huge learning rate is detected as divergence, not a crash", "[trainer]") {
    TrainConfig c = small_config("mnist-cnn", "none");
    c.lr = 1e4;
    Trainer t(c, train_set(), test_set());
    Silent s;
    const RunResult r = t.run(s);
    CHECK(r.diverged);
    CHECK(r.diverged_at >= 1);
    CHECK(r.steps == r.diverged_at - 1);
    REQUIRE_FALSE(s.rows.empty());
    CHECK(s.rows.back().step == r.diverged_at);
    CHECK(std::isnan(s.rows.back().test_loss));
}

TEST_CASE("bad training configs are errors naming the field", "[trainer]") {
    TrainConfig c = small_config("mlp", "none");
    c.batch_size = 1000;
    CHECK_THROWS_WITH(Trainer(c, train_set(), test_set()), Catch::Contains("batch_size: 1000 is larger than the 512"));
    c = small_config("mlp", "none");
    c.lr = -1;
    CHECK_THROWS_WITH(Trainer(c, train_set(), test_set()), Catch::Contains("lr: must be > 0"));
    c = small_config("mlp", "none");
    c.optimizer = "rmsprop";
    CHECK_THROWS_WITH(Trainer(c, train_set(), test_set()),
                      Catch::Contains("optimizer: unknown optimizer 'rmsprop' (known: sgd, adam, adamw)"));
}

TEST_CASE("every validation error is a FieldError naming a config.json key, not a flag", "[trainer]") {
    const nlohmann::json keys = to_json(TrainConfig{});
    const std::vector<std::pair<std::string, std::function<void(TrainConfig&)>>> cases = {
        {"model", [](TrainConfig& c) { c.model.arch = "resnet"; }},
        {"norm", [](TrainConfig& c) { c.model.norm = "batch"; }},
        {"init", [](TrainConfig& c) { c.model.init = "xavier"; }},
        {"activation", [](TrainConfig& c) { c.model.activation = "gelu"; }},
        {"optimizer", [](TrainConfig& c) { c.optimizer = "rmsprop"; }},
        {"schedule", [](TrainConfig& c) { c.schedule = "linear"; }},
        {"lr", [](TrainConfig& c) { c.lr = 0; }},
        {"momentum", [](TrainConfig& c) { c.momentum = 1; }},
        {"weight_decay", [](TrainConfig& c) { c.weight_decay = -1; }},
        {"batch_size", [](TrainConfig& c) { c.batch_size = 0; }},
        {"epochs", [](TrainConfig& c) { c.epochs = 0; }},
        {"steps", [](TrainConfig& c) { c.steps = -1; }},
        {"eval_every", [](TrainConfig& c) { c.eval_every = -1; }},
        {"train_limit", [](TrainConfig& c) { c.train_limit = -1; }},
        {"test_limit", [](TrainConfig& c) { c.test_limit = -1; }},
        {"warmup_steps", [](TrainConfig& c) { c.warmup_steps = -1; }},
        {"clip_grad_norm", [](TrainConfig& c) { c.clip_grad_norm = -1; }},
        {"threads", [](TrainConfig& c) { c.threads = -1; }},
        {"init_scale", [](TrainConfig& c) { c.model.init_scale = 0; }},
        {"dropout", [](TrainConfig& c) { c.model.dropout = 1; }},
    };
    for (const auto& [field, spoil] : cases) {
        INFO(field);
        TrainConfig c;
        spoil(c);
        try {
            c.validate();
            FAIL("no error");
        } catch (const FieldError& e) {
            CHECK(e.field() == field);
            CHECK(keys.contains(e.field()));
            CHECK(std::string(e.what()) == field + ": " + e.problem());
            CHECK(std::string(e.what()).find("--") == std::string::npos);
        }
    }
    TrainConfig both_zero;
    both_zero.epochs = 0;
    CHECK_THROWS_WITH(both_zero.validate(), "epochs: must be >= 1 when steps is 0, got 0");
    both_zero.steps = 5;
    CHECK_NOTHROW(both_zero.validate());
}

TEST_CASE("every listed optimizer and schedule trains", "[trainer]") {
    for (const std::string& optimizer : optimizer_names())
        for (const std::string& schedule : schedule_names()) {
            INFO(optimizer << " / " << schedule);
            TrainConfig c = small_config("mlp", "none");
            c.optimizer = optimizer;
            c.schedule = schedule;
            c.steps = 2;
            Trainer t(c, train_set(), test_set());
            Silent s;
            CHECK(t.run(s).steps == 2);
        }
}

TEST_CASE("config JSON round trip keeps every field and rejects unknown ones", "[trainer]") {
    TrainConfig c = small_config("cifar-cnn", "gn");
    c.model.batch_norm.momentum = std::nullopt;
    c.model.gn_groups = 8;
    c.weight_decay = 5e-4;
    const TrainConfig back = config_from_json(to_json(c));
    CHECK(to_json(back) == to_json(c));
    CHECK_FALSE(back.model.batch_norm.momentum.has_value());
    nlohmann::json j = to_json(c);
    j["learning_rate"] = 0.1;
    CHECK_THROWS_WITH(config_from_json(j), Catch::Contains("unknown field 'learning_rate'"));
    // Integer fields take JSON integers (or integral floats) in range, nothing else: get_to
    // would cast 1e300 to int (undefined behaviour) and wrap 2^40 silently.
    j = to_json(c);
    j["threads"] = 1e300;
    CHECK_THROWS_WITH(config_from_json(j), Catch::Contains("field 'threads': expected an integer in [-2147483648, 2147483647]"));
    j["threads"] = int64_t{1} << 40;
    CHECK_THROWS_WITH(config_from_json(j), Catch::Contains("field 'threads': expected an integer"));
    j["threads"] = 2.5;
    CHECK_THROWS_WITH(config_from_json(j), Catch::Contains("got 2.5"));
    j["threads"] = 2.0;
    CHECK(config_from_json(j).threads == 2);
    j = to_json(c);
    j["seed"] = -1;
    CHECK_THROWS_WITH(config_from_json(j), Catch::Contains("field 'seed': expected an integer in [0, 18446744073709551615], got -1"));
}

TEST_CASE("the memory pool reuses buffers: a training step allocates nothing new after the first", "[memory]") {
    MemoryPool pool;
    auto model = make_model({.arch = "mnist-cnn", .norm = "bn"}, InputSpec{1, 8, 8, 4}, 0);
    SGD opt(model->parameters(), 0.01, {.momentum = 0.9});
    Generator gen(0);
    Tensor x = Tensor::randn({16, 1, 8, 8}, gen);
    const std::vector<int32_t> labels(16, 1);
    std::vector<int64_t> fresh;
    for (int step = 0; step < 4; ++step) {
        opt.zero_grad();
        Tape tape;
        tape.backward(cross_entropy(model->forward(x), labels));
        opt.step();
        fresh.push_back(pool.stats().fresh);
    }
    CHECK(fresh[1] > 0);
    CHECK(fresh[3] == fresh[1]);  // steps 3 and 4 took every buffer from the pool
    CHECK(pool.stats().reused > 0);
    // Buffers can outlive the pool object: they return to its memory, freed with the last.
}

TEST_CASE("with a profiler active the trainer reports every step, its data, optimizer and ops", "[trainer][profiler]") {
    TrainConfig c = small_config("mnist-cnn", "bn");
    c.epochs = 1;  // 16 steps, two evaluations in between (eval_every 8)
    Trainer trainer(c, train_set(), test_set());
    Silent observer;
    Profiler profiler;
    trainer.run(observer);
    CHECK(profiler.steps() == trainer.total_steps());
    REQUIRE(profiler.fresh_per_step().size() == static_cast<size_t>(trainer.total_steps()));
    CHECK(profiler.fresh_per_step().back() == 0);  // evaluations between steps are not counted
    std::vector<std::string> names;
    for (const Profiler::OpTime& t : profiler.ops()) {
        names.emplace_back(t.op);
        // mnist-cnn's three BatchNorms, each fused with its ReLU, two of them with a max pool too.
        // Training steps only: evaluation passes (paused) would add forward calls.
        const int64_t per_step = names.back() == "batch_norm_relu"              ? 1
                                 : names.back() == "batch_norm_relu_max_pool2d" ? 2
                                                                                 : 0;
        if (per_step > 0) {
            CHECK(t.forward_calls == per_step * trainer.total_steps());
            CHECK(t.backward_calls == per_step * trainer.total_steps());
        }
    }
    CHECK_THAT(names, Catch::VectorContains(std::string("data")) && Catch::VectorContains(std::string("optimizer")) &&
                          Catch::VectorContains(std::string("conv2d")) &&
                          Catch::VectorContains(std::string("batch_norm_relu")) &&
                          Catch::VectorContains(std::string("batch_norm_relu_max_pool2d")));
}
