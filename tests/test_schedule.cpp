// Learning-rate schedules and gradient clipping against PyTorch
// (tests/fixtures/optim_fixtures.py: optim_schedules / optim_clip.safetensors).
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "optim/clip_grad.h"
#include "optim/schedule.h"
#include "tests/fixture_file.h"

using namespace bnlab;
using namespace bnlab::testing;

namespace {

void check_schedule(const Schedule& schedule, const TensorFile& file, const std::string& key) {
    const std::vector<double> expected = metadata_numbers(file, key);
    REQUIRE(expected.size() == 25);
    for (size_t t = 0; t < expected.size(); ++t) {
        INFO(key << " at t = " << t);
        CHECK(schedule.lr(static_cast<int64_t>(t)) == Approx(expected[t]).epsilon(1e-12).margin(0));
    }
}

// A parameter whose gradient is `grad` (set directly, as backward would leave it).
Tensor with_grad(const Tensor& grad) {
    Tensor param = Tensor::zeros(grad.shape());
    param.set_requires_grad();
    param.impl()->grad = grad.clone();
    return param;
}

}  // namespace

TEST_CASE("schedules give PyTorch's learning rates", "[optim][schedule][pytorch]") {
    const TensorFile file = read_fixture("optim_schedules.safetensors");
    const double base_lr = metadata_number(file, "base_lr");
    check_schedule(StepDecay(base_lr, 7, 0.5), file, "step_decay");
    check_schedule(CosineAnnealing(base_lr, 10, 0.001), file, "cosine");
    check_schedule(LinearWarmup(0.1, 4, std::make_unique<CosineAnnealing>(base_lr, 10, 0.001)), file, "warmup_cosine");
    check_schedule(LinearWarmup(0.25, 3, std::make_unique<StepDecay>(base_lr, 5, 0.1)), file, "warmup_step_decay");
}

TEST_CASE("a constant schedule is constant, schedule options are checked", "[optim][schedule]") {
    const ConstantSchedule constant(0.05);
    for (int64_t t : {0, 1, 1000000}) CHECK(constant.lr(t) == 0.05);
    CHECK(StepDecay(0.1, 3).lr(3) == Approx(0.01));  // gamma defaults to 0.1, as StepLR
    CHECK(CosineAnnealing(0.1, 8).lr(8) == Approx(0.0).margin(1e-15));  // eta_min defaults to 0

    CHECK_THROWS_WITH(ConstantSchedule(-1.0), Catch::Contains("ConstantSchedule: lr must be finite and >= 0, got -1"));
    CHECK_THROWS_WITH(StepDecay(0.1, 0), Catch::Contains("StepDecay: step_size must be > 0, got 0"));
    CHECK_THROWS_WITH(StepDecay(0.1, 5, -0.5), Catch::Contains("StepDecay: gamma must be finite and >= 0, got -0.5"));
    CHECK_THROWS_WITH(CosineAnnealing(0.1, 0), Catch::Contains("CosineAnnealing: period must be > 0, got 0"));
    CHECK_THROWS_WITH(CosineAnnealing(0.1, 10, -0.001),
                      Catch::Contains("CosineAnnealing: eta_min must be finite and >= 0, got -0.001"));
    CHECK_THROWS_WITH(LinearWarmup(0.0, 5, std::make_unique<ConstantSchedule>(0.1)),
                      Catch::Contains("LinearWarmup: start_factor must be in (0, 1], got 0"));
    CHECK_THROWS_WITH(LinearWarmup(0.5, 0, std::make_unique<ConstantSchedule>(0.1)),
                      Catch::Contains("LinearWarmup: warmup_steps must be > 0, got 0"));
    CHECK_THROWS_WITH(LinearWarmup(0.5, 5, nullptr), Catch::Contains("LinearWarmup: the schedule to hand over to is null"));
    CHECK_THROWS_WITH(constant.lr(-1), Catch::Contains("learning-rate schedule: step must be >= 0, got -1"));
}

TEST_CASE("clip_grad_norm matches torch.nn.utils.clip_grad_norm_", "[optim][clip][pytorch]") {
    const TensorFile file = read_fixture("optim_clip.safetensors");
    const std::vector<std::string> names = {"a", "b", "c"};
    for (int clip_case = 0; clip_case < 3; ++clip_case) {
        const std::string prefix = std::to_string(clip_case) + ".";
        INFO("case " << clip_case);
        std::vector<Tensor> params;
        for (const std::string& name : names) params.push_back(with_grad(file.tensor(name + ".grad")));
        const double max_norm = metadata_number(file, prefix + "max_norm");
        const double total = clip_grad_norm(params, max_norm);
        CHECK(total == Approx(metadata_number(file, prefix + "total_norm")).epsilon(1e-6));
        for (size_t i = 0; i < names.size(); ++i) {
            INFO("gradient " << names[i]);
            CHECK(allclose(params[i].grad(), file.tensor(prefix + names[i] + ".clipped"), 1e-5f, 1e-7f));
        }
    }
}

TEST_CASE("clip_grad_norm skips missing gradients and leaves non-finite ones to the caller", "[optim][clip]") {
    const Tensor grad = Tensor::from_vector({2}, {3.0f, 4.0f});
    std::vector<Tensor> params = {with_grad(grad), Tensor::zeros({3})};  // the second has no grad
    CHECK(clip_grad_norm(params, 10.0) == Approx(5.0));
    CHECK(params[0].grad().to_vector() == grad.to_vector());  // under max_norm: untouched
    CHECK(clip_grad_norm(params, 1.0) == Approx(5.0));
    CHECK(params[0].grad().at({0}) == Approx(0.6f).epsilon(1e-6));
    CHECK(params[0].grad().at({1}) == Approx(0.8f).epsilon(1e-6));
    CHECK_FALSE(params[1].grad().defined());

    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
        const Tensor bad_grad = Tensor::from_vector({3}, {1.0f, bad, 2.0f});
        std::vector<Tensor> bad_params = {with_grad(bad_grad), with_grad(grad)};
        const double total = clip_grad_norm(bad_params, 1.0);
        CHECK_FALSE(std::isfinite(total));
        CHECK(bad_params[1].grad().to_vector() == grad.to_vector());
        CHECK(bad_params[0].grad().at({2}) == 2.0f);
    }
    CHECK(clip_grad_norm(std::vector<Tensor>{}, 1.0) == 0.0);
    CHECK_THROWS_WITH(clip_grad_norm(params, -1.0), Catch::Contains("clip_grad_norm: max_norm must be >= 0, got -1"));
}
