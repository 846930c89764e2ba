// PyTorch parity for layers: BatchNorm's train/eval semantics in every configuration, and
// whole models loaded from PyTorch-written safetensors files
// (fixtures: tests/fixtures/layer_fixtures.py, torch 1.13).
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>

#include "core/ops.h"
#include "core/tape.h"
#include "layers/layers.h"
#include "models/zoo.h"

using namespace bnlab;
namespace fs = std::filesystem;

namespace {

const fs::path kFixtures = fs::path(BNLAB_SOURCE_DIR) / "tests" / "fixtures" / "layers";

void require_close(const std::string& what, const Tensor& actual, const Tensor& expected, double rtol = 1e-4,
                   double atol = 1e-5) {
    INFO(what);
    REQUIRE(actual.defined());
    REQUIRE(actual.shape() == expected.shape());
    for (int64_t i = 0; i < actual.numel(); ++i) {
        const double a = actual.data()[i], e = expected.data()[i];
        if (!(std::fabs(a - e) <= atol + rtol * std::fabs(e))) {
            FAIL_CHECK(what << " element " << i << ": " << a << " vs PyTorch " << e);
            return;
        }
    }
}

// The entries of `file` whose names start with `prefix`, with the prefix removed.
TensorFile with_prefix(const TensorFile& file, const std::string& prefix) {
    TensorFile out;
    out.source = file.source + " [" + prefix + "*]";
    for (const auto& [k, v] : file.f32)
        if (k.rfind(prefix, 0) == 0) out.f32[k.substr(prefix.size())] = v;
    for (const auto& [k, v] : file.i64)
        if (k.rfind(prefix, 0) == 0) out.i64[k.substr(prefix.size())] = v;
    return out;
}

void require_same_state(const std::string& what, const TensorFile& actual, const TensorFile& expected) {
    // Same keys with the same dtypes: what PyTorch's strict load_state_dict asks for.
    std::vector<std::string> ka, ke, ia, ie;
    for (const auto& [k, v] : actual.f32) ka.push_back(k);
    for (const auto& [k, v] : expected.f32) ke.push_back(k);
    for (const auto& [k, v] : actual.i64) ia.push_back(k);
    for (const auto& [k, v] : expected.i64) ie.push_back(k);
    CHECK(ka == ke);
    CHECK(ia == ie);
    for (const auto& [k, v] : expected.f32)
        if (actual.f32.count(k)) require_close(what + " " + k, actual.f32.at(k), v);
    for (const auto& [k, v] : expected.i64) {
        if (!actual.i64.count(k)) continue;
        CHECK(actual.i64.at(k).shape == v.shape);  // 0-d, not (1): see tinygrad#13538
        CHECK(actual.i64.at(k).values == v.values);
    }
}

std::vector<int32_t> labels_of(const Tensor& t) {
    std::vector<int32_t> out;
    for (float v : t.values()) out.push_back(static_cast<int32_t>(v));
    return out;
}

}  // namespace

TEST_CASE("BatchNorm2d matches PyTorch in every train/eval x track x affine x momentum setting", "[layers][parity][norm]") {
    int cases = 0;
    for (const auto& entry : fs::directory_iterator(kFixtures)) {
        const std::string fname = entry.path().filename().string();
        if (fname.rfind("bn_", 0) != 0) continue;
        ++cases;
        const TensorFile f = read_safetensors(entry.path().string());
        BatchNormOptions options;
        options.affine = f.metadata.at("affine") == "1";
        options.track_running_stats = f.metadata.at("track_running_stats") == "1";
        if (f.metadata.at("momentum") == "none") options.momentum = std::nullopt;
        BatchNorm2d bn(3, options);
        bn.load_state_dict(with_prefix(f, "init."));
        bn.train(f.metadata.at("training") == "1");
        for (int step = 0; step < 3; ++step) {
            const std::string s = std::to_string(step);
            Tensor x = f.tensor("x" + s).clone();
            x.set_requires_grad();
            bn.zero_grad();
            Tape tape;
            Tensor y = bn(x);
            require_close(fname + " y" + s, y, f.tensor("y" + s));
            tape.backward(y, f.tensor("grad_y" + s));
            require_close(fname + " grad_x" + s, x.grad(), f.tensor("grad_x" + s));
            if (options.affine) {
                require_close(fname + " grad_weight" + s, bn.weight.grad(), f.tensor("grad_weight" + s));
                require_close(fname + " grad_bias" + s, bn.bias.grad(), f.tensor("grad_bias" + s));
            }
        }
        require_same_state(fname + " final state", bn.state_dict(), with_prefix(f, "final."));
    }
    CHECK(cases == 16);
}

namespace {

std::shared_ptr<Sequential> small_cnn(Generator& gen) {
    return sequential({
        std::make_shared<Conv2d>(1, 4, 3, gen, Conv2dOptions{.padding = 1, .bias = false}),
        std::make_shared<BatchNorm2d>(4), std::make_shared<ReLU>(), std::make_shared<MaxPool2d>(2),
        std::make_shared<Conv2d>(4, 6, 3, gen, Conv2dOptions{.padding = 1, .bias = false}),
        std::make_shared<BatchNorm2d>(6), std::make_shared<ReLU>(), std::make_shared<MaxPool2d>(2),
        std::make_shared<Flatten>(), std::make_shared<Linear>(24, 10, gen)});
}

std::shared_ptr<Sequential> small_mlp(Generator& gen) {
    return sequential({
        std::make_shared<Linear>(12, 16, gen), std::make_shared<LayerNorm>(Shape{16}), std::make_shared<ReLU>(),
        std::make_shared<Linear>(16, 8, gen, LinearOptions{.bias = false}), std::make_shared<GroupNorm>(2, 8),
        std::make_shared<Tanh>(), std::make_shared<Linear>(8, 3, gen)});
}

std::shared_ptr<Sequential> small_cnn_gn(Generator& gen) {
    return sequential({
        std::make_shared<Conv2d>(2, 4, 3, gen, Conv2dOptions{.padding = 1, .bias = false}),
        std::make_shared<GroupNorm>(4, 4), std::make_shared<ReLU>(), std::make_shared<MaxPool2d>(2),
        std::make_shared<Conv2d>(4, 6, 3, gen, Conv2dOptions{.padding = 1, .bias = false}),
        std::make_shared<GroupNorm>(1, 6), std::make_shared<ReLU>(), std::make_shared<MaxPool2d>(2),
        std::make_shared<Flatten>(), std::make_shared<Linear>(24, 5, gen)});
}

// Loads the PyTorch-written initial weights, replays 3 training steps (losses, every
// parameter's gradient, BN running statistics), then compares eval-mode outputs.
void replay_model(const std::string& name, Module& model) {
    model.load_state_dict(read_safetensors((kFixtures / (name + "_init.safetensors")).string()));
    const TensorFile f = read_safetensors((kFixtures / (name + ".safetensors")).string());
    model.train();
    for (int step = 0; step < 3; ++step) {
        const std::string s = std::to_string(step);
        model.zero_grad();
        Tape tape;
        Tensor loss = cross_entropy(model(f.tensor("x" + s)), labels_of(f.tensor("labels" + s)));
        require_close(name + " loss" + s, loss, f.tensor("loss" + s));
        tape.backward(loss);
        for (const auto& [pname, p] : model.named_parameters())
            require_close(name + " grad" + s + "." + pname, p.grad(), f.tensor("grad" + s + "." + pname), 1e-4, 1e-6);
    }
    require_same_state(name + " state after training", model.state_dict(), with_prefix(f, "final."));
    ModeGuard eval_mode(model, false);
    NoTape inference;
    require_close(name + " eval output", model(f.tensor("eval_x")), f.tensor("eval_y"));
}

}  // namespace

TEST_CASE("a small CNN with BatchNorm loaded from a PyTorch file trains and evaluates like PyTorch", "[layers][parity]") {
    Generator gen(0);
    auto model = small_cnn(gen);
    replay_model("cnn_bn", *model);
}

TEST_CASE("a small MLP with LayerNorm and GroupNorm loaded from a PyTorch file matches PyTorch", "[layers][parity]") {
    Generator gen(0);
    auto model = small_mlp(gen);
    replay_model("mlp_ln_gn", *model);
}

TEST_CASE("a small CNN with GroupNorm(C,C) and GroupNorm(1,C) matches PyTorch", "[layers][parity]") {
    Generator gen(0);
    auto model = small_cnn_gn(gen);
    replay_model("cnn_gn", *model);
}

TEST_CASE("ResNet-20's blocks with option-A shortcuts train and evaluate like PyTorch", "[layers][parity][residual]") {
    // tests/fixtures/resnet_fixtures.py builds the same network in PyTorch.
    auto model = make_model({.arch = "conv4-norm-relu-basic4-basic8s2-basic8-gap-fc", .norm = "bn"}, {3, 7, 7, 5}, 0);
    replay_model("resnet_option_a", *model);
}
