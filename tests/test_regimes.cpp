// Regime maps (experiments/claims/regime.h) and the per-group learning rates the learning-rate
// claim uses to find which layers set BN's ceiling (models/param_groups.h, Optimizer factors,
// TrainConfig::unnormalized_lr).
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "core/error.h"
#include "core/ops.h"
#include "core/tape.h"
#include "experiments/claims/regime.h"
#include "models/param_groups.h"
#include "models/zoo.h"
#include "optim/sgd.h"
#include "tests/synthetic_data.h"
#include "train/trainer.h"

using namespace bnlab;
using namespace bnlab::claims;

namespace {

RegimeSeries depth_series(std::vector<std::string> verdicts) {
    RegimeSeries s{"mlp", "depth", {}};
    const double depths[] = {2, 4, 8, 16};
    for (size_t i = 0; i < verdicts.size(); ++i) s.points.push_back({depths[i], verdicts[i], fmt::format("{}x", i + 1)});
    return s;
}

}  // namespace

TEST_CASE("a regime series reads as stretches of one verdict with their boundaries", "[claims][regime]") {
    const RegimeSeries rising = depth_series({"refuted", "refuted", "confirmed", "confirmed"});
    CHECK(describe_series(rising) == "refuted for depth <= 4, confirmed for depth >= 8 (8: 3x; 16: 4x)");
    CHECK(where_it_holds(std::vector{rising}) == "mlp: depth >= 8");

    const RegimeSeries middle = depth_series({"refuted", "depends", "depends", "confirmed"});
    CHECK(describe_series(middle) == "refuted for depth <= 2, depends for depth 4-8, confirmed for depth >= 16 (16: 4x)");

    const RegimeSeries everywhere = depth_series({"confirmed", "confirmed"});
    CHECK(describe_series(everywhere) == "confirmed at every point tested (depth 2-4) (2: 1x; 4: 2x)");
    CHECK(where_it_holds(std::vector{everywhere}) == "mlp: every point tested (depth 2-4)");

    RegimeSeries one_model{"resnet20", "depth", {{20, "confirmed", ""}}};
    CHECK(where_it_holds(std::vector{one_model}) == "resnet20 (depth 20)");
    CHECK(describe_series(one_model) == "confirmed for depth 20");
    CHECK(where_it_holds(std::vector{depth_series({"refuted", "depends"})}) == "at no point tested");

    RegimeSeries activations{"cifar-cnn", "activation", {{0, "refuted", "", "relu"}, {1, "confirmed", "+2.1", "tanh"},
                                                          {2, "confirmed", "+3.0", "sigmoid"}}};
    CHECK(describe_series(activations) == "refuted for activation relu, confirmed for activation tanh, sigmoid (tanh: +2.1; "
                                          "sigmoid: +3.0)");
    CHECK(where_it_holds(std::vector{activations}) == "cifar-cnn: activation tanh, sigmoid");

    RegimeSeries unordered{"mlp", "depth", {{8, "refuted", ""}, {4, "refuted", ""}}};
    CHECK_THROWS_AS(describe_series(unordered), Error);
}

TEST_CASE("the overall verdict is confirmed or refuted only when every regime agrees", "[claims][regime]") {
    CHECK(overall_verdict(std::vector{depth_series({"confirmed", "confirmed"}), depth_series({"confirmed"})}) == "confirmed");
    CHECK(overall_verdict(std::vector{depth_series({"refuted", "refuted"})}) == "refuted");
    CHECK(overall_verdict(std::vector{depth_series({"refuted", "confirmed"})}) == "depends");
    CHECK(overall_verdict(std::vector{depth_series({"confirmed"}), depth_series({"refuted"})}) == "depends");
    CHECK_THROWS_AS(overall_verdict(std::vector<RegimeSeries>{}), Error);
}

TEST_CASE("normalized_parameters marks the weights that feed a norm, and nothing else", "[models][param_groups]") {
    ModelConfig mlp{.arch = "mlp", .norm = "bn", .activation = "relu", .depth = 3, .width = 8};
    auto model = make_model(mlp, InputSpec{1, 4, 4, 10}, 0);
    std::vector<std::string> normalized;
    const std::vector<bool> flags = normalized_parameters(*model);
    const auto named = model->named_parameters();
    REQUIRE(flags.size() == named.size());
    for (size_t i = 0; i < flags.size(); ++i)
        if (flags[i]) normalized.push_back(named[i].first);
    // Two hidden Linear layers feed BatchNorm1d; the last Linear, its bias and BN's weight/bias do not count.
    CHECK(normalized.size() == 2);
    for (const auto& name : normalized) CHECK(name.ends_with(".weight"));
    CHECK(named.back().first.ends_with("bias"));
    CHECK_FALSE(flags.back());

    mlp.norm = "none";
    auto plain = make_model(mlp, InputSpec{1, 4, 4, 10}, 0);
    for (bool f : normalized_parameters(*plain)) CHECK_FALSE(f);

    // Residual blocks: the convs inside the branches feed norms too.
    auto resnet = make_model(ModelConfig{.arch = "resnet20", .norm = "bn"}, InputSpec{3, 32, 32, 10}, 0);
    const auto resnet_flags = normalized_parameters(*resnet);
    CHECK(std::count(resnet_flags.begin(), resnet_flags.end(), true) == 19);  // 19 convs, each before a BN
}

TEST_CASE("learning-rate factors scale each parameter's update", "[optim][param_groups]") {
    Tensor a = Tensor::full({2}, 1.0f), b = Tensor::full({2}, 1.0f), c = Tensor::full({2}, 1.0f);
    for (Tensor* t : {&a, &b, &c}) t->set_requires_grad(true);
    SGD sgd({a, b, c}, 0.1);
    sgd.set_lr_factors({1.0, 2.0, 0.0});
    {
        Tape tape;
        tape.backward(sum(add(add(a, b), c)));  // every gradient is 1
    }
    sgd.step();
    CHECK(a.to_vector() == std::vector<float>{0.9f, 0.9f});
    CHECK(b.to_vector()[0] == Approx(0.8f));
    CHECK(c.to_vector() == std::vector<float>{1.0f, 1.0f});
    CHECK_THROWS_AS(sgd.set_lr_factors({1.0}), Error);
    CHECK_THROWS_AS(sgd.set_lr_factors({1.0, -1.0, 1.0}), Error);
}

TEST_CASE("unnormalized_lr equal to lr changes nothing, and another value changes the run",
          "[trainer][param_groups]") {
    const Dataset train = test::quadrants(256, 1), eval = test::quadrants(64, 2);
    const auto run = [&](double unnormalized_lr) {
        TrainConfig c = test::small_config("mlp", "bn");
        c.epochs = 1;
        c.threads = 1;
        c.unnormalized_lr = unnormalized_lr;
        Trainer t(c, train, eval);
        struct : TrainObserver {
        } quiet;
        t.run(quiet);
        std::vector<std::vector<float>> w;
        for (const auto& [name, p] : t.model().named_parameters()) w.push_back(p.to_vector());
        return w;
    };
    const auto plain = run(0), same = run(0.05), frozen = run(1e-30);
    CHECK(plain == same);
    CHECK(plain != frozen);

    TrainConfig bad = test::small_config("mlp", "bn");
    bad.unnormalized_lr = -1;
    CHECK_THROWS_WITH(bad.validate(), Catch::Contains("unnormalized_lr"));
    bad.unnormalized_lr = 0.2;
    CHECK(config_from_json(to_json(bad)).unnormalized_lr == 0.2);
}
