// Optimizers: 10 steps against PyTorch (tests/fixtures/optim_fixtures.py), option checks,
// parameters without gradients, and optimizer state in checkpoints (exact resume, errors).
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <memory>

#include "core/error.h"
#include "core/ops.h"
#include "core/tape.h"
#include "optim/adam.h"
#include "optim/sgd.h"
#include "tests/fixture_file.h"

using namespace bnlab;
using namespace bnlab::testing;

namespace {

// The fixture's parameters, in order: a (3,4), b (5,), c (2,) (c has no gradient at steps 1-3).
const std::vector<std::string> kParamNames = {"a", "b", "c"};
constexpr int kFixtureSteps = 10;

const std::vector<std::string> kOptimizerFixtures = {
    "optim_sgd.safetensors",
    "optim_sgd_momentum_dampening.safetensors",
    "optim_sgd_nesterov_weight_decay.safetensors",
    "optim_adam.safetensors",
    "optim_adam_weight_decay_amsgrad.safetensors",
    "optim_adamw.safetensors",
};

// Sets param.grad() to `grad` the way training does: the backward of sum(param * grad).
void set_grad(Tensor& param, const Tensor& grad) {
    param.zero_grad();
    Tape tape;
    tape.backward(sum(mul(param, grad)));
}

Tensor parameter(const Tensor& values) {
    Tensor param = values.clone();
    param.set_requires_grad();
    return param;
}

bool same_bits(const Tensor& a, const Tensor& b) {
    return a.shape() == b.shape() &&
           std::memcmp(a.data(), b.data(), static_cast<size_t>(a.numel()) * sizeof(float)) == 0;
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
    float diff = 0;
    for (int64_t j = 0; j < a.numel(); ++j) diff = std::max(diff, std::abs(a.data()[j] - b.data()[j]));
    return diff;
}

// Fresh parameters holding the tensors "<name><suffix>" of `file`.
std::vector<Tensor> params_from(const TensorFile& file, const std::string& prefix, const std::string& suffix) {
    std::vector<Tensor> params;
    for (const std::string& name : kParamNames) params.push_back(parameter(file.tensor(prefix + name + suffix)));
    return params;
}

// The optimizer a fixture file names, with the hyper-parameters in its metadata.
std::unique_ptr<Optimizer> fixture_optimizer(const TensorFile& file, std::vector<Tensor> params) {
    const std::string& kind = file.metadata.at("optimizer");
    const double lr = metadata_number(file, "lr");
    if (kind == "SGD")
        return std::make_unique<SGD>(params, lr,
                                     SGDOptions{.momentum = metadata_number(file, "momentum"),
                                                .dampening = metadata_number(file, "dampening"),
                                                .nesterov = metadata_flag(file, "nesterov"),
                                                .weight_decay = metadata_number(file, "weight_decay")});
    const AdamOptions options{.beta1 = metadata_number(file, "beta1"),
                              .beta2 = metadata_number(file, "beta2"),
                              .eps = metadata_number(file, "eps"),
                              .weight_decay = metadata_number(file, "weight_decay"),
                              .amsgrad = metadata_flag(file, "amsgrad")};
    if (kind == "Adam") return std::make_unique<Adam>(params, lr, options);
    REQUIRE(kind == "AdamW");
    return std::make_unique<AdamW>(params, lr, options);
}

// Step t of a fixture: its lr, its gradients (none where the file has none), one step.
void fixture_step(Optimizer& optimizer, std::vector<Tensor>& params, const TensorFile& file, int t) {
    optimizer.set_lr(metadata_number(file, "lr." + std::to_string(t)));
    for (size_t i = 0; i < params.size(); ++i) {
        const std::string grad_name = kParamNames[i] + ".grad." + std::to_string(t);
        if (file.contains(grad_name)) set_grad(params[i], file.tensor(grad_name));
        else params[i].zero_grad();
    }
    optimizer.step();
}

void check_against_pytorch(const std::string& filename) {
    const TensorFile file = read_fixture(filename);
    std::vector<Tensor> params = params_from(file, "", ".init");
    const auto optimizer = fixture_optimizer(file, params);
    std::vector<bool> had_grad(params.size(), false);
    for (int t = 1; t <= kFixtureSteps; ++t) {
        fixture_step(*optimizer, params, file, t);
        for (size_t i = 0; i < params.size(); ++i) {
            const std::string& name = kParamNames[i];
            const Tensor& expected = file.tensor(name + ".step." + std::to_string(t));
            INFO(filename << ", step " << t << ", parameter " << name << ": max |bnlab - torch| "
                          << max_abs_diff(params[i], expected));
            CHECK(allclose(params[i], expected, 1e-5f, 1e-6f));
            had_grad[i] = had_grad[i] || params[i].grad().defined();
            // Never given a gradient: not a bit may change (weight decay included).
            if (!had_grad[i]) CHECK(same_bits(params[i], file.tensor(name + ".init")));
        }
    }
    CHECK(optimizer->steps() == kFixtureSteps);
}

}  // namespace

TEST_CASE("SGD matches PyTorch over 10 steps", "[optim][pytorch]") { check_against_pytorch("optim_sgd.safetensors"); }

TEST_CASE("SGD with momentum and dampening matches PyTorch", "[optim][pytorch]") {
    check_against_pytorch("optim_sgd_momentum_dampening.safetensors");
}

TEST_CASE("SGD with Nesterov momentum and weight decay matches PyTorch", "[optim][pytorch]") {
    check_against_pytorch("optim_sgd_nesterov_weight_decay.safetensors");
}

TEST_CASE("Adam matches PyTorch over 10 steps", "[optim][pytorch]") { check_against_pytorch("optim_adam.safetensors"); }

TEST_CASE("Adam with weight decay and AMSGrad matches PyTorch", "[optim][pytorch]") {
    check_against_pytorch("optim_adam_weight_decay_amsgrad.safetensors");
}

TEST_CASE("AdamW under a cosine schedule matches PyTorch", "[optim][pytorch]") {
    check_against_pytorch("optim_adamw.safetensors");
}

TEST_CASE("optimizer options outside their range are errors naming the option", "[optim]") {
    const std::vector<Tensor> params = {parameter(Tensor::zeros({2}))};
    CHECK_THROWS_WITH(SGD(params, -0.1), Catch::Contains("SGD: lr must be finite and >= 0, got -0.1"));
    CHECK_THROWS_WITH(SGD(params, std::nan("")), Catch::Contains("SGD: lr must be finite and >= 0, got nan"));
    CHECK_THROWS_WITH(SGD(params, 0.1, {.momentum = -0.5}), Catch::Contains("SGD: momentum must be finite and >= 0, got -0.5"));
    CHECK_THROWS_WITH(SGD(params, 0.1, {.momentum = 0.9, .dampening = 1.5}),
                      Catch::Contains("SGD: dampening must be in [0, 1], got 1.5"));
    CHECK_THROWS_WITH(SGD(params, 0.1, {.weight_decay = -1e-4}),
                      Catch::Contains("SGD: weight_decay must be finite and >= 0, got -0.0001"));
    CHECK_THROWS_WITH(SGD(params, 0.1, {.nesterov = true}),
                      Catch::Contains("nesterov momentum requires momentum > 0 and dampening == 0, got momentum 0 "
                                      "and dampening 0"));
    CHECK_THROWS_WITH(SGD(params, 0.1, {.momentum = 0.9, .dampening = 0.1, .nesterov = true}),
                      Catch::Contains("got momentum 0.9 and dampening 0.1"));
    CHECK_THROWS_WITH(Adam(params, 0.1, {.beta1 = 1.0}), Catch::Contains("Adam: beta1 must be in [0, 1), got 1"));
    CHECK_THROWS_WITH(Adam(params, 0.1, {.beta2 = -0.1}), Catch::Contains("Adam: beta2 must be in [0, 1), got -0.1"));
    CHECK_THROWS_WITH(Adam(params, 0.1, {.eps = 0.0}), Catch::Contains("Adam: eps must be finite and > 0, got 0"));
    CHECK_THROWS_WITH(AdamW(params, 0.1, {.weight_decay = -0.01}),
                      Catch::Contains("AdamW: weight_decay must be finite and >= 0, got -0.01"));
    CHECK_THROWS_WITH(AdamW(params, -1.0), Catch::Contains("AdamW: lr must be finite and >= 0, got -1"));
    SGD sgd(params, 0.1);
    CHECK_THROWS_WITH(sgd.set_lr(-0.01), Catch::Contains("SGD: lr must be finite and >= 0, got -0.01"));
    CHECK(sgd.lr() == 0.1);
    // The parameter list itself.
    CHECK_THROWS_WITH(SGD({}, 0.1), Catch::Contains("SGD: got an empty parameter list"));
    CHECK_THROWS_WITH(Adam({params[0], Tensor()}), Catch::Contains("Adam: parameter 1 is an undefined tensor"));
    CHECK_THROWS_WITH(Adam({params[0], params[0]}), Catch::Contains("parameter 1 is the same tensor as parameter 0"));
    // A gradient that does not fit its parameter (only reachable by hand).
    Tensor param = params[0];
    param.impl()->grad = Tensor::zeros({3});
    CHECK_THROWS_WITH(sgd.step(), Catch::Contains("parameter 0 has shape (2) but its gradient has shape (3)"));
}

TEST_CASE("defaults are PyTorch's: Adam lr 1e-3 without decay, AdamW decay 1e-2", "[optim]") {
    const std::vector<Tensor> params = {parameter(Tensor::zeros({2}))};
    const Adam adam(params);
    CHECK(adam.lr() == 1e-3);
    CHECK(adam.options().beta1 == 0.9);
    CHECK(adam.options().beta2 == 0.999);
    CHECK(adam.options().eps == 1e-8);
    CHECK(*adam.options().weight_decay == 0.0);
    CHECK_FALSE(adam.options().amsgrad);
    CHECK(*AdamW(params).options().weight_decay == 1e-2);
    CHECK(*AdamW(params, 1e-3, {.weight_decay = 0.0}).options().weight_decay == 0.0);
    CHECK(AdamW(params).name() == "AdamW");
}

TEST_CASE("parameters without a gradient are skipped, state and all", "[optim]") {
    const Tensor used_init = Tensor::from_vector({3}, {1.0f, -2.0f, 0.5f});
    const Tensor unused_init = Tensor::from_vector({2}, {3.0f, 4.0f});
    const Tensor grad = Tensor::from_vector({3}, {0.3f, 0.1f, -0.2f});
    const auto run = [&](auto make_optimizer) {
        std::vector<Tensor> params = {parameter(used_init), parameter(unused_init)};
        auto optimizer = make_optimizer(params);
        for (int t = 0; t < 3; ++t) {
            set_grad(params[0], grad);
            optimizer.step();
        }
        CHECK_FALSE(same_bits(params[0], used_init));
        CHECK(same_bits(params[1], unused_init));  // weight decay would have moved it
        TensorFile state;
        optimizer.save_state(state, "opt");
        CHECK(state.i64.at("opt.0.step").values == std::vector<int64_t>{3});
        CHECK_FALSE(state.contains("opt.1.step"));
        for (const auto& [name, tensor] : state.f32) CHECK(name.starts_with("opt.0."));
        // zero_grad drops the gradients: the next step moves nothing, momentum or not.
        optimizer.zero_grad();
        CHECK_FALSE(params[0].grad().defined());
        const Tensor before = params[0].clone();
        optimizer.step();
        CHECK(same_bits(params[0], before));
        CHECK(optimizer.steps() == 4);
    };
    run([](auto& p) { return SGD(p, 0.1, {.momentum = 0.9, .weight_decay = 0.1}); });
    run([](auto& p) { return Adam(p, 0.1, {.weight_decay = 0.1, .amsgrad = true}); });
    run([](auto& p) { return AdamW(p, 0.1); });
}

TEST_CASE("resuming from saved optimizer state is bit-identical", "[optim][checkpoint]") {
    const std::string filename = GENERATE(from_range(kOptimizerFixtures));
    const int resume_at = GENERATE(2, 5);  // at 2, parameter c has no state yet
    INFO(filename << ", resumed after step " << resume_at);
    const TensorFile file = read_fixture(filename);

    std::vector<Tensor> straight = params_from(file, "", ".init");
    const auto straight_optimizer = fixture_optimizer(file, straight);
    for (int t = 1; t <= kFixtureSteps; ++t) fixture_step(*straight_optimizer, straight, file, t);

    std::vector<Tensor> first = params_from(file, "", ".init");
    const auto first_optimizer = fixture_optimizer(file, first);
    for (int t = 1; t <= resume_at; ++t) fixture_step(*first_optimizer, first, file, t);
    first_optimizer->set_lr(0.1234567891);  // what a schedule left there; the resume must bring it back
    TensorFile checkpoint;
    for (size_t i = 0; i < first.size(); ++i) checkpoint.f32["model." + kParamNames[i]] = first[i].clone();
    first_optimizer->save_state(checkpoint, "optimizer");
    const std::string path = (std::filesystem::temp_directory_path() / "bnlab_test_optim_resume.safetensors").string();
    write_safetensors(path, checkpoint);

    const TensorFile loaded = read_safetensors(path);
    std::filesystem::remove(path);
    std::vector<Tensor> resumed = params_from(loaded, "model.", "");
    const auto resumed_optimizer = fixture_optimizer(file, resumed);
    resumed_optimizer->load_state(loaded, "optimizer");
    CHECK(resumed_optimizer->lr() == 0.1234567891);
    CHECK(resumed_optimizer->steps() == resume_at);
    for (int t = resume_at + 1; t <= kFixtureSteps; ++t) fixture_step(*resumed_optimizer, resumed, file, t);
    for (size_t i = 0; i < resumed.size(); ++i) {
        INFO("parameter " << kParamNames[i]);
        CHECK(same_bits(resumed[i], straight[i]));
    }
}

TEST_CASE("save_state writes PyTorch's buffer names, a snapshot, and replaces an earlier save", "[optim][checkpoint]") {
    std::vector<Tensor> params = {parameter(Tensor::ones({3, 4})), parameter(Tensor::ones({5}))};
    Adam optimizer(params, 0.01, {.amsgrad = true});
    set_grad(params[0], Tensor::full({3, 4}, 0.5f));
    optimizer.step();
    TensorFile file;
    optimizer.save_state(file, "opt");
    CHECK(file.metadata.at("opt.optimizer") == "Adam");
    CHECK(file.metadata.at("opt.params") == "2");
    CHECK(file.metadata.at("opt.lr") == "0.01");
    CHECK(file.metadata.at("opt.beta2") == "0.999");
    CHECK(file.metadata.at("opt.amsgrad") == "true");
    CHECK(file.i64.at("opt.steps").values == std::vector<int64_t>{1});
    CHECK(file.i64.at("opt.steps").shape.empty());
    for (const char* buffer : {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"})
        CHECK(file.tensor(std::string("opt.0.") + buffer).shape() == Shape{3, 4});
    // m after one step is (1 - beta1) g = 0.05; the file keeps that while training goes on.
    CHECK(file.tensor("opt.0.exp_avg").at({0, 0}) == Approx(0.05f));
    set_grad(params[1], Tensor::ones({5}));
    optimizer.step();
    CHECK(file.tensor("opt.0.exp_avg").at({0, 0}) == Approx(0.05f));
    CHECK_FALSE(file.contains("opt.1.step"));

    file.f32["opt.7.stale"] = Tensor::zeros({1});
    optimizer.save_state(file, "opt");
    CHECK_FALSE(file.contains("opt.7.stale"));
    CHECK(file.i64.at("opt.1.step").values == std::vector<int64_t>{1});
    CHECK_THROWS_WITH(optimizer.save_state(file, ""), Catch::Contains("Adam.save_state: the prefix must not be empty"));
}

TEST_CASE("load_state names the first mismatch and leaves the optimizer as it was", "[optim][checkpoint]") {
    std::vector<Tensor> params = {parameter(Tensor::ones({3, 4})), parameter(Tensor::ones({5}))};
    Adam saved(params, 0.01, {.amsgrad = true});
    set_grad(params[0], Tensor::full({3, 4}, 0.5f));
    set_grad(params[1], Tensor::full({5}, -0.5f));
    saved.step();
    TensorFile file;
    saved.save_state(file, "opt");
    file.source = "run.safetensors";

    const auto expect_error = [&](Optimizer& target, const std::string& message) {
        const double lr_before = target.lr();
        CHECK_THROWS_WITH(target.load_state(file, "opt"), Catch::Contains(message));
        CHECK(target.lr() == lr_before);
        CHECK(target.steps() == 0);
    };
    Adam target(params, 0.5, {.amsgrad = true});
    SECTION("another optimizer") {
        SGD sgd(params, 0.01);
        expect_error(sgd, "run.safetensors: SGD.load_state 'opt': the file holds Adam state, not SGD");
    }
    SECTION("another hyper-parameter") {
        Adam other(params, 0.01, {.beta1 = 0.8, .amsgrad = true});
        expect_error(other, "beta1 is 0.9 in the file but 0.8 here");
        Adam plain(params, 0.01);
        expect_error(plain, "amsgrad is true in the file but false here");
    }
    SECTION("another number of parameters") {
        Adam fewer({params[0]}, 0.01, {.amsgrad = true});
        expect_error(fewer, "the file holds state for 2 parameters, this optimizer has 1");
    }
    SECTION("a buffer shape that does not fit the parameter") {
        Adam transposed({parameter(Tensor::ones({4, 3})), params[1]}, 0.01, {.amsgrad = true});
        expect_error(transposed, "'opt.0.exp_avg' has shape (3,4) but parameter 0 has shape (4,3)");
    }
    SECTION("a missing buffer") {
        file.f32.erase("opt.1.max_exp_avg_sq");
        expect_error(target, "no F32 tensor 'opt.1.max_exp_avg_sq'");
    }
    SECTION("an entry this optimizer does not have") {
        file.f32["opt.1.momentum_buffer"] = Tensor::zeros({5});
        expect_error(target, "unexpected tensor 'opt.1.momentum_buffer'");
        file.f32.erase("opt.1.momentum_buffer");
        file.i64["opt.2.step"] = {Shape{}, {1}};
        expect_error(target, "unexpected tensor 'opt.2.step'");
    }
    SECTION("bad counts and metadata") {
        file.i64["opt.steps"] = {Shape{1}, {1}};
        expect_error(target, "'opt.steps' must be a 0-d count >= 0");
        file.i64["opt.steps"] = {Shape{}, {1}};
        file.i64["opt.0.step"] = {Shape{}, {0}};
        expect_error(target, "'opt.0.step' is 0");
        file.i64["opt.0.step"] = {Shape{}, {1}};
        file.metadata["opt.lr"] = "fast";
        expect_error(target, "lr 'fast' is not a number >= 0");
        file.metadata.erase("opt.eps");
        expect_error(target, "no metadata 'opt.eps'");
    }
    SECTION("another prefix") {
        CHECK_THROWS_WITH(target.load_state(file, "optimizer"), Catch::Contains("no metadata 'optimizer.optimizer'"));
        CHECK_THROWS_WITH(target.load_state(file, ""), Catch::Contains("the prefix must not be empty"));
    }
    SECTION("the unmodified file loads") {
        target.load_state(file, "opt");
        CHECK(target.lr() == 0.01);
        CHECK(target.steps() == 1);
    }
}
