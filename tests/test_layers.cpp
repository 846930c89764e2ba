// Module API: names, modes, the mode guard, state_dict, initialization, layer errors.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/ops.h"
#include "core/tape.h"
#include "layers/layers.h"

using namespace bnlab;

namespace {

// features: conv, bn, relu; classifier: flatten, dropout, linear
class TwoPartNet : public Module {
public:
    explicit TwoPartNet(Generator& gen) {
        features = sequential({std::make_shared<Conv2d>(1, 2, 3, gen, Conv2dOptions{.padding = 1, .bias = false}),
                               std::make_shared<BatchNorm2d>(2), std::make_shared<ReLU>()});
        classifier = sequential({std::make_shared<Flatten>(), std::make_shared<Dropout>(0.5f, 7),
                                 std::make_shared<Linear>(2 * 4 * 4, 3, gen)});
        register_module("features", features);
        register_module("classifier", classifier);
    }
    Tensor forward(const Tensor& x) override { return classifier->forward(features->forward(x)); }
    std::string describe() const override { return "TwoPartNet"; }
    std::shared_ptr<Sequential> features, classifier;
};

std::vector<std::string> names(const std::vector<std::pair<std::string, Tensor>>& named) {
    std::vector<std::string> out;
    for (const auto& [n, t] : named) out.push_back(n);
    return out;
}

std::string temp_path(const std::string& name) {
    return (std::filesystem::temp_directory_path() / ("bnlab_test_" + name)).string();
}

}  // namespace

TEST_CASE("parameters and buffers have PyTorch's dotted names", "[layers][module]") {
    Generator gen(0);
    TwoPartNet net(gen);
    CHECK(names(net.named_parameters()) ==
          std::vector<std::string>{"features.0.weight", "features.1.weight", "features.1.bias", "classifier.2.weight",
                                   "classifier.2.bias"});
    CHECK(names(net.named_buffers()) == std::vector<std::string>{"features.1.running_mean", "features.1.running_var"});
    const TensorFile state = net.state_dict();
    REQUIRE(state.i64.count("features.1.num_batches_tracked"));
    CHECK(state.i64.at("features.1.num_batches_tracked").shape.size() == 0);  // a 0-d int64 tensor
    CHECK(net.parameter_count() == 18 + 2 + 2 + 32 * 3 + 3);
    CHECK(net.named_generators().size() == 1);
    CHECK(net.named_generators()[0].first == "classifier.1.generator");
    for (const auto& [n, p] : net.named_parameters()) CHECK(p.requires_grad());
}

TEST_CASE("train/eval recurse and ModeGuard restores every module's previous mode", "[layers][module]") {
    Generator gen(0);
    TwoPartNet net(gen);
    CHECK(net.is_training());
    CHECK((*net.features)[1].is_training());
    net.eval();
    CHECK_FALSE((*net.features)[1].is_training());
    net.train();
    // A user freezes BN in eval mode; an evaluation pass in the middle must not unfreeze it,
    // and must not leave the rest of the model in eval mode either.
    (*net.features)[1].eval();
    {
        ModeGuard eval_mode(net, false);
        CHECK_FALSE(net.is_training());
        CHECK_FALSE((*net.classifier)[1].is_training());
    }
    CHECK(net.is_training());
    CHECK((*net.classifier)[1].is_training());
    CHECK_FALSE((*net.features)[1].is_training());
    // Restored even when the scope exits by exception.
    try {
        ModeGuard eval_mode(net, false);
        throw std::runtime_error("evaluation failed");
    } catch (const std::runtime_error&) {
    }
    CHECK(net.classifier->is_training());
}

TEST_CASE("zero_grad clears every parameter's gradient", "[layers][module]") {
    Generator gen(1);
    TwoPartNet net(gen);
    Tensor x = Tensor::randn({4, 1, 4, 4}, gen);
    {
        Tape tape;
        tape.backward(sum(net(x)));
    }
    for (const auto& [n, p] : net.named_parameters()) CHECK(p.grad().defined());
    net.zero_grad();
    for (const auto& [n, p] : net.named_parameters()) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("summary lists layers, output shapes and parameter counts", "[layers][module]") {
    Generator gen(2);
    auto model = sequential({std::make_shared<Conv2d>(1, 8, 3, gen, Conv2dOptions{.padding = 1}),
                             std::make_shared<BatchNorm2d>(8), std::make_shared<ReLU>(), std::make_shared<MaxPool2d>(2),
                             std::make_shared<Flatten>(), std::make_shared<Linear>(8 * 14 * 14, 10, gen)});
    const std::string s = summary(*model, {1, 1, 28, 28});
    CHECK_THAT(s, Catch::Contains("Conv2d(1, 8, kernel_size=3, padding=1)"));
    CHECK_THAT(s, Catch::Contains("(1,8,28,28)"));
    CHECK_THAT(s, Catch::Contains("(1,8,14,14)"));
    CHECK_THAT(s, Catch::Contains("Linear(1568, 10)"));
    CHECK_THAT(s, Catch::Contains("parameters " + std::to_string(80 + 16 + 15690)));
    CHECK(model->is_training());  // summary ran in eval mode and restored the mode
}

TEST_CASE("Linear and Conv2d use PyTorch's default init, scaled by init_scale", "[layers][init]") {
    Generator gen(3);
    Conv2d conv(16, 32, 3, gen);
    const float bound = 1.0f / std::sqrt(16.0f * 9.0f);
    double sq = 0;
    float most = 0;
    for (float w : conv.weight.values()) {
        most = std::max(most, std::fabs(w));
        sq += static_cast<double>(w) * w;
    }
    CHECK(most <= bound);
    CHECK(most > 0.95f * bound);
    CHECK(std::sqrt(sq / static_cast<double>(conv.weight.numel())) == Approx(bound / std::sqrt(3.0)).epsilon(0.05));
    for (float b : conv.bias.values()) CHECK(std::fabs(b) <= bound);
    Generator g1(4), g2(4);
    Linear plain(10, 5, g1), scaled(10, 5, g2, LinearOptions{.init_scale = 100.0f});
    for (int64_t i = 0; i < plain.weight.numel(); ++i) CHECK(scaled.weight.data()[i] == 100.0f * plain.weight.data()[i]);
    CHECK(scaled.bias.to_vector() == plain.bias.to_vector());
    CHECK_THROWS_WITH(Linear(0, 5, g1), Catch::Contains("Linear: in_features must be >= 1, got 0"));
}

TEST_CASE("Gaussian init: weight ~ N(0, init_scale^2) whatever the fan-in, zero biases", "[layers][init]") {
    // CS231n's `weight_scale * randn`: the same std for a 784-input and a 50-input layer.
    for (const int64_t fan_in : {50, 784}) {
        Generator gen(7);
        Linear layer(fan_in, 200, gen, LinearOptions{.init_scale = 0.05f, .init = WeightInit::gaussian});
        double sum = 0, sq = 0;
        for (float w : layer.weight.values()) {
            sum += w;
            sq += static_cast<double>(w) * w;
        }
        const auto n = static_cast<double>(layer.weight.numel());
        CHECK(std::fabs(sum / n) < 0.05 * 4 / std::sqrt(n));            // mean 0 (4 standard errors)
        CHECK(std::sqrt(sq / n) == Approx(0.05).epsilon(0.02));          // std = init_scale
        for (float b : layer.bias.values()) CHECK(b == 0.0f);
    }
    Generator g1(9), g2(9);
    Conv2d unit(3, 8, 3, g1, Conv2dOptions{.init = WeightInit::gaussian});
    Conv2d tiny(3, 8, 3, g2, Conv2dOptions{.init_scale = 1e-4f, .init = WeightInit::gaussian});
    for (int64_t i = 0; i < unit.weight.numel(); ++i) CHECK(tiny.weight.data()[i] == Approx(1e-4f * unit.weight.data()[i]));
}

TEST_CASE("BatchNorm layers: ranks, batch-1 rule, buffers, cumulative average", "[layers][norm]") {
    BatchNorm1d bn1(4);
    CHECK_THROWS_WITH(bn1(Tensor::ones({1, 4})), Catch::Contains("expected more than 1 value per channel when training"));
    CHECK(bn1.num_batches_tracked == 0);  // the rejected batch was not counted
    CHECK_THROWS_WITH(bn1(Tensor::ones({2, 4, 3, 3})), Catch::Contains("BatchNorm1d: expected a 2D (N,C) or 3D (N,C,L) input"));
    CHECK_THROWS_WITH(bn1(Tensor::ones({2, 5})), Catch::Contains("has 5 channels, the layer has 4"));
    CHECK_NOTHROW(bn1(Tensor::ones({1, 4, 3})));  // (N,C,L) with N = 1: 3 values per channel
    bn1.eval();
    CHECK_NOTHROW(bn1(Tensor::ones({1, 4})));  // eval uses running statistics: batch 1 is fine

    BatchNorm2d bn2(3);
    Generator gen(5);
    CHECK_NOTHROW(bn2(Tensor::randn({1, 3, 4, 4}, gen)));
    CHECK(bn2.num_batches_tracked == 1);
    CHECK_THROWS_WITH(bn2(Tensor::ones({2, 3, 4})), Catch::Contains("BatchNorm2d: expected a 4D (N,C,H,W) input"));

    BatchNorm2d no_track(3, BatchNormOptions{.track_running_stats = false});
    CHECK(no_track.named_buffers().empty());
    CHECK(no_track.state_dict().i64.empty());
    CHECK(no_track.state_dict().f32.size() == 2);
    no_track.eval();  // still uses batch statistics
    Tensor x = Tensor::randn({8, 3, 2, 2}, gen, 5.0f, 3.0f);
    CHECK(std::fabs(mean(no_track(x)).item()) < 1e-5f);

    // momentum unset: a cumulative moving average of the batch means.
    BatchNorm1d cumulative(1, BatchNormOptions{.momentum = std::nullopt});
    for (float m : {1.0f, 2.0f, 6.0f}) cumulative(Tensor::from_vector({2, 1}, {m - 1, m + 1}));
    CHECK(cumulative.running_mean.item() == Approx(3.0f));
    CHECK(cumulative.num_batches_tracked == 3);
    CHECK_THROWS_WITH(BatchNorm2d(3, BatchNormOptions{.momentum = 1.5}), Catch::Contains("momentum must be in [0, 1]"));
}

TEST_CASE("LayerNorm, GroupNorm, Dropout layers check their inputs", "[layers][norm]") {
    LayerNorm ln(Shape{4, 5});
    CHECK_THROWS_WITH(ln(Tensor::ones({2, 5, 4})), Catch::Contains("does not end with normalized_shape (4,5)"));
    CHECK(ln(Tensor::ones({2, 4, 5})).shape() == Shape{2, 4, 5});
    CHECK_THROWS_WITH(GroupNorm(3, 8), Catch::Contains("num_channels (8) must be divisible by num_groups (3)"));
    GroupNorm gn(2, 4);
    CHECK_THROWS_WITH(gn(Tensor::ones({2, 6, 3})), Catch::Contains("expected (N,4,...) input"));
    Dropout drop(0.5f, 1);
    Tensor x = Tensor::ones({1000});
    drop.eval();
    CHECK(drop(x).same(x));
    drop.train();
    CHECK(drop(x).to_vector() != x.to_vector());
    CHECK_THROWS_WITH(Dropout(-0.1f), Catch::Contains("Dropout: p must be in [0, 1]"));
}

TEST_CASE("state_dict round trip through safetensors is exact", "[layers][checkpoint]") {
    Generator gen(6);
    TwoPartNet a(gen), b(gen);
    a(Tensor::randn({4, 1, 4, 4}, gen));  // move BN's running statistics and counter
    const std::string path = temp_path("model.safetensors");
    write_safetensors(path, a.state_dict());
    b.load_state_dict(read_safetensors(path));
    const TensorFile sa = a.state_dict(), sb = b.state_dict();
    for (const auto& [name, t] : sa.f32) CHECK(sb.f32.at(name).to_vector() == t.to_vector());
    CHECK(sb.i64.at("features.1.num_batches_tracked").values == std::vector<int64_t>{1});
    std::filesystem::remove(path);
}

TEST_CASE("load_state_dict names the first mismatch and leaves the model untouched", "[layers][checkpoint]") {
    Generator gen(7);
    TwoPartNet net(gen);
    const std::vector<float> before = net.features->named_parameters()[0].second.to_vector();
    TensorFile state = net.state_dict();
    for (auto& [name, t] : state.f32) t = t.clone();  // values of its own, not the model's tensors
    state.f32["features.0.weight"].fill(9.0f);

    TensorFile missing = state;
    missing.f32.erase("classifier.2.bias");
    CHECK_THROWS_WITH(net.load_state_dict(missing), Catch::Contains("missing key 'classifier.2.bias'"));
    TensorFile extra = state;
    extra.f32["classifier.3.weight"] = Tensor::ones({1});
    CHECK_THROWS_WITH(net.load_state_dict(extra), Catch::Contains("unexpected key 'classifier.3.weight'"));
    TensorFile shape = state;
    shape.f32["classifier.2.weight"] = Tensor::ones({3, 31});
    CHECK_THROWS_WITH(net.load_state_dict(shape),
                      Catch::Contains("'classifier.2.weight' has shape (3,31), the model expects (3,32)"));
    TensorFile dtype = state;
    dtype.i64.erase("features.1.num_batches_tracked");
    dtype.f32["features.1.num_batches_tracked"] = Tensor::scalar(0.0f);
    CHECK_THROWS_WITH(net.load_state_dict(dtype), Catch::Contains("found as F32, expected I64"));
    CHECK(net.features->named_parameters()[0].second.to_vector() == before);  // nothing was half-loaded
    net.load_state_dict(state);
    CHECK(net.features->named_parameters()[0].second.at({0, 0, 0, 0}) == 9.0f);
}
