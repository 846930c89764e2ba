// Finite-difference gradient checks for every op, several shapes each.
#include <catch2/catch.hpp>
#include <cmath>
#include <numeric>

#include "core/ops.h"
#include "core/ops/direct_conv.h"
#include "core/ops/winograd.h"
#include "core/random.h"
#include "core/tape.h"
#include "tests/gradcheck.h"

using namespace bnlab;
using bnlab::testing::gradcheck;
using bnlab::testing::GradCheckOptions;
using bnlab::testing::param;
using bnlab::testing::require_ok;

namespace {

// Values that are pairwise at least `gap` apart (in random order), so that max-pooling's
// winner and ReLU's sign cannot flip under a finite-difference step.
Tensor distinct_values(const Shape& shape, Generator& gen, float gap = 0.05f) {
    std::vector<float> v(static_cast<size_t>(shape.numel()));
    for (size_t i = 0; i < v.size(); ++i) v[i] = (static_cast<float>(i) - static_cast<float>(v.size() / 2) + 0.5f) * gap;  // never 0
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[gen.below(i)]);
    Tensor t = Tensor::from_vector(shape, v);
    t.set_requires_grad();
    return t;
}

}  // namespace

TEST_CASE("gradcheck itself catches a wrong backward", "[gradcheck]") {
    // y = 2x with a backward that claims dy/dx = 3: the harness must report it.
    const auto wrong_double = [](const std::vector<Tensor>& in) {
        const Tensor& x = in[0];
        Tensor y = Tensor::empty(x.shape());
        for (int64_t i = 0; i < x.numel(); ++i) y.data()[i] = 2.0f * x.data()[i];
        if (Tape* tape = recording_tape({&x}))
            tape->record("wrong_double", {x}, y, [x](const Tensor& gy) {
                float* gx = grad_buffer(x);
                for (int64_t i = 0; i < x.numel(); ++i) gx[i] += 3.0f * gy.data()[i];
            });
        return y;
    };
    Generator gen(0);
    const auto r = gradcheck(wrong_double, {param({3, 2}, gen)});
    CHECK(r.checked == 6);
    CHECK_FALSE(r.ok);
    CHECK_THAT(r.report, Catch::Contains("analytic"));
}

TEST_CASE("gradcheck: add, sub, mul, div with broadcasting", "[gradcheck][elementwise]") {
    Generator gen(1);
    const std::vector<std::pair<Shape, Shape>> cases = {
        {{3, 4}, {3, 4}},             // same shape
        {{5, 3}, {3}},                // bias over batch
        {{2, 3, 4, 5}, {1, 3, 1, 1}}, // per-channel over N,H,W
        {{2, 1, 3}, {4, 1}},          // both stretched
        {{1, 1}, {3, 2}},
        {{}, {2, 3}},                 // 0-d scalar tensor
    };
    for (const auto& [sa, sb] : cases) {
        INFO("shapes " << sa.str() << " and " << sb.str());
        Tensor a = param(sa, gen), b = param(sb, gen);
        require_ok(gradcheck([](const auto& in) { return add(in[0], in[1]); }, {a, b}));
        require_ok(gradcheck([](const auto& in) { return sub(in[0], in[1]); }, {a, b}));
        require_ok(gradcheck([](const auto& in) { return mul(in[0], in[1]); }, {a, b}));
        Tensor positive = param(sb, gen, 0.5f, 2.0f);  // keep the divisor away from 0
        require_ok(gradcheck([](const auto& in) { return div(in[0], in[1]); }, {a, positive}));
    }
}

TEST_CASE("gradcheck: a tensor used as both operands", "[gradcheck][elementwise]") {
    Generator gen(2);
    Tensor a = param({4, 3}, gen);
    require_ok(gradcheck([](const auto& in) { return mul(in[0], in[0]); }, {a}));
    require_ok(gradcheck([](const auto& in) { return div(in[0], add(mul(in[0], in[0]), 1.0f)); }, {a}));
}

TEST_CASE("gradcheck: scalar ops", "[gradcheck][elementwise]") {
    Generator gen(3);
    Tensor a = param({2, 5}, gen);
    require_ok(gradcheck([](const auto& in) { return add(in[0], 3.0f); }, {a}));
    require_ok(gradcheck([](const auto& in) { return mul(in[0], -2.5f); }, {a}));
    require_ok(gradcheck([](const auto& in) { return neg(in[0]); }, {a}));
    require_ok(gradcheck([](const auto& in) { return 1.0f - in[0] / 4.0f; }, {a}));
}

TEST_CASE("gradcheck: matmul and linear", "[gradcheck][matmul]") {
    Generator gen(4);
    for (const auto& [M, K, N] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{1, 1, 1}, {3, 5, 2}, {7, 4, 9}}) {
        INFO("M K N = " << M << " " << K << " " << N);
        require_ok(gradcheck([](const auto& in) { return matmul(in[0], in[1]); }, {param({M, K}, gen), param({K, N}, gen)}));
        require_ok(gradcheck([](const auto& in) { return linear(in[0], in[1], in[2]); },
                             {param({M, K}, gen), param({N, K}, gen), param({N}, gen)}));
        require_ok(gradcheck([](const auto& in) { return linear(in[0], in[1]); }, {param({M, K}, gen), param({N, K}, gen)}));
    }
}

TEST_CASE("gradcheck: sum and mean", "[gradcheck][reduce]") {
    Generator gen(5);
    Tensor x = param({2, 3, 4}, gen);
    require_ok(gradcheck([](const auto& in) { return sum(in[0]); }, {x}));
    require_ok(gradcheck([](const auto& in) { return mean(in[0]); }, {x}));
    for (int dim : {0, 1, 2, -1}) {
        for (bool keepdim : {false, true}) {
            INFO("dim " << dim << " keepdim " << keepdim);
            require_ok(gradcheck([dim, keepdim](const auto& in) { return sum(in[0], dim, keepdim); }, {x}));
            require_ok(gradcheck([dim, keepdim](const auto& in) { return mean(in[0], dim, keepdim); }, {x}));
        }
    }
}

TEST_CASE("gradcheck: reshape and flatten", "[gradcheck][view]") {
    Generator gen(6);
    Tensor x = param({2, 3, 2, 2}, gen);
    // Multiply after the view so the check sees a position-dependent gradient.
    Tensor w = param({2, 12}, gen);
    require_ok(gradcheck([](const auto& in) { return mul(flatten(in[0]), in[1]); }, {x, w}));
    require_ok(gradcheck([](const auto& in) { return mul(reshape(in[0], {4, -1}), 2.0f); }, {x}));
    require_ok(gradcheck([](const auto& in) { return in[0].flatten(0); }, {x}));
}

TEST_CASE("gradcheck: relu, sigmoid, tanh", "[gradcheck][activation]") {
    Generator gen(7);
    for (const Shape& s : {Shape{7}, Shape{2, 3, 3, 3}}) {
        Tensor x = distinct_values(s, gen, 0.07f);  // no value within a step of relu's kink
        require_ok(gradcheck([](const auto& in) { return relu(in[0]); }, {x}));
        Tensor y = param(s, gen, -4.0f, 4.0f);
        require_ok(gradcheck([](const auto& in) { return sigmoid(in[0]); }, {y}));
        require_ok(gradcheck([](const auto& in) { return tanh(in[0]); }, {y}));
    }
}

TEST_CASE("gradcheck: log_softmax along each dimension", "[gradcheck][softmax]") {
    Generator gen(8);
    Tensor x = param({3, 4, 5}, gen, -3.0f, 3.0f);
    for (int dim : {0, 1, 2}) {
        INFO("dim " << dim);
        require_ok(gradcheck([dim](const auto& in) { return log_softmax(in[0], dim); }, {x}));
    }
    require_ok(gradcheck([](const auto& in) { return log_softmax(in[0]); }, {param({1, 10}, gen)}));
}

TEST_CASE("gradcheck: cross_entropy", "[gradcheck][softmax]") {
    Generator gen(9);
    const std::vector<int32_t> labels{2, 0, 4, 4, 1};
    require_ok(gradcheck([&](const auto& in) { return cross_entropy(in[0], labels); }, {param({5, 5}, gen, -3.0f, 3.0f)}));
    const std::vector<int32_t> one{1};
    require_ok(gradcheck([&](const auto& in) { return cross_entropy(in[0], one); }, {param({1, 3}, gen)}));
}

TEST_CASE("gradcheck: conv2d's 3x3 algorithms forced (direct loop, Winograd)", "[gradcheck][conv]") {
    // conv2d picks these by shape and CPU; forced here so each one's backward meets finite differences.
    Generator gen(13);
    for (const auto algorithm : {detail::ConvAlgorithm::direct, detail::ConvAlgorithm::winograd}) {
        if (algorithm == detail::ConvAlgorithm::direct && !detail::direct_conv_supported()) continue;  // no AVX2
        const detail::ScopedConvAlgorithm forced(algorithm);
        for (const int padding : {0, 1, 2}) {
            INFO("algorithm " << static_cast<int>(algorithm) << ", padding " << padding);
            Tensor x = param({2, 3, 6, 5}, gen), w = param({5, 3, 3, 3}, gen), b = param({5}, gen);
            require_ok(gradcheck([=](const auto& in) { return conv2d(in[0], in[1], in[2], 1, padding); }, {x, w, b}));
        }
    }
}

TEST_CASE("gradcheck: conv2d over stride, padding, bias, odd sizes", "[gradcheck][conv]") {
    Generator gen(10);
    struct Case {
        int64_t N, C, H, W, F, k;
        int stride, padding;
        bool bias;
    };
    const std::vector<Case> cases = {
        {1, 1, 5, 5, 1, 3, 1, 0, true},   // batch 1, one channel
        {2, 3, 6, 5, 4, 3, 1, 1, true},   // "same" padding, non-square
        {2, 2, 7, 7, 3, 3, 2, 1, false},  // stride 2, no bias
        {3, 2, 5, 6, 2, 2, 2, 0, true},   // even kernel
        {1, 3, 4, 4, 5, 1, 1, 0, true},   // 1x1
        {2, 1, 3, 3, 2, 3, 1, 2, true},   // padding larger than needed
    };
    for (const Case& c : cases) {
        INFO("N C H W F k stride padding = " << c.N << " " << c.C << " " << c.H << " " << c.W << " " << c.F << " "
                                              << c.k << " " << c.stride << " " << c.padding);
        Tensor x = param({c.N, c.C, c.H, c.W}, gen), w = param({c.F, c.C, c.k, c.k}, gen);
        Tensor b = c.bias ? param({c.F}, gen) : Tensor();
        const int stride = c.stride, padding = c.padding;
        require_ok(gradcheck([=](const auto& in) { return conv2d(in[0], in[1], in[2], stride, padding); }, {x, w, b}));
    }
}

TEST_CASE("gradcheck: max_pool2d, avg_pool2d, global_avg_pool2d", "[gradcheck][pool]") {
    Generator gen(11);
    struct Case {
        Shape shape;
        int kernel, stride, padding;
    };
    const std::vector<Case> cases = {
        {{1, 1, 4, 4}, 2, 0, 0},  // batch 1, default stride = kernel
        {{2, 3, 5, 5}, 2, 2, 0},  // odd size: last row/column dropped
        {{2, 2, 7, 6}, 3, 2, 1},  // overlapping windows with padding
        {{1, 2, 5, 5}, 3, 1, 1},
    };
    for (const Case& c : cases) {
        INFO("shape " << c.shape.str() << " kernel " << c.kernel << " stride " << c.stride << " padding " << c.padding);
        const int k = c.kernel, s = c.stride, p = c.padding;
        require_ok(gradcheck([=](const auto& in) { return max_pool2d(in[0], k, s, p); }, {distinct_values(c.shape, gen)}));
        require_ok(gradcheck([=](const auto& in) { return avg_pool2d(in[0], k, s, p); }, {param(c.shape, gen)}));
    }
    require_ok(gradcheck([](const auto& in) { return global_avg_pool2d(in[0]); }, {param({2, 3, 4, 5}, gen)}));
    require_ok(gradcheck([](const auto& in) { return global_avg_pool2d(in[0]); }, {param({1, 1, 1, 1}, gen)}));
}

TEST_CASE("gradcheck: dropout with a fixed mask", "[gradcheck][dropout]") {
    Generator gen(12);
    Tensor x = param({4, 6}, gen);
    // A fresh generator per call: the same mask in every evaluation of f.
    require_ok(gradcheck([](const auto& in) { Generator g(99); return dropout(in[0], 0.3f, true, g); }, {x}));
    require_ok(gradcheck([](const auto& in) { Generator g(99); return dropout(in[0], 0.3f, false, g); }, {x}));
}

TEST_CASE("gradcheck: batch_norm and batch_norm_relu in training and evaluation", "[gradcheck][norm]") {
    Generator gen(13);
    // Stiffer than other ops (it divides by the batch std), so a smaller step. With the ReLU,
    // an output within eps of 0 would straddle the kink; with this seed none does.
    const GradCheckOptions opt{5e-4, 3e-2, 3e-3};
    for (const auto norm : {&batch_norm, &batch_norm_relu})
        for (const Shape& s : {Shape{4, 3}, Shape{2, 3, 5}, Shape{3, 2, 3, 3}, Shape{1, 2, 3, 2}, Shape{2, 1, 1, 1}}) {
            INFO((norm == &batch_norm ? "batch_norm" : "batch_norm_relu") << ", shape " << s.str());
            const int64_t C = s[1];
            Tensor x = param(s, gen, -2.0f, 2.0f), w = param({C}, gen, 0.5f, 1.5f), b = param({C}, gen);
            require_ok(gradcheck([&](const auto& in) { return norm(in[0], Tensor(), Tensor(), in[1], in[2], true, 0.1, 1e-5, nullptr); },
                                 {x, w, b}, opt));
            require_ok(gradcheck(
                [&](const auto& in) { return norm(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5, nullptr); }, {x},
                opt));
            Tensor running_mean = Tensor::uniform({C}, gen, -0.5f, 0.5f), running_var = Tensor::uniform({C}, gen, 0.5f, 2.0f);
            require_ok(gradcheck(
                [&](const auto& in) { return norm(in[0], running_mean, running_var, in[1], in[2], false, 0.1, 1e-5, nullptr); },
                {x, w, b}, opt));
        }
}

TEST_CASE("gradcheck: add_relu", "[gradcheck]") {
    Generator gen(16);
    Tensor a = param({3, 4, 5}, gen, -2.0f, 2.0f), b = param({3, 4, 5}, gen, -2.0f, 2.0f);
    require_ok(gradcheck([](const auto& in) { return add_relu(in[0], in[1]); }, {a, b}));
}

TEST_CASE("gradcheck: batch_norm_relu_max_pool2d in training and evaluation", "[gradcheck][norm]") {
    Generator gen(15);
    // As batch_norm_relu; random values leave no ties within a window and (with this seed) no
    // ReLU input within the step of 0.
    const GradCheckOptions opt{5e-4, 3e-2, 3e-3};
    for (const Shape& s : {Shape{3, 2, 4, 4}, Shape{2, 3, 5, 3}, Shape{2, 1, 2, 10}}) {
        INFO("shape " << s.str());
        const int64_t C = s[1];
        Tensor x = param(s, gen, -2.0f, 2.0f), w = param({C}, gen, 0.5f, 1.5f), b = param({C}, gen);
        require_ok(gradcheck(
            [&](const auto& in) { return batch_norm_relu_max_pool2d(in[0], Tensor(), Tensor(), in[1], in[2], true); },
            {x, w, b}, opt));
        Tensor running_mean = Tensor::uniform({C}, gen, -0.5f, 0.5f), running_var = Tensor::uniform({C}, gen, 0.5f, 2.0f);
        require_ok(gradcheck(
            [&](const auto& in) {
                return batch_norm_relu_max_pool2d(in[0], running_mean, running_var, in[1], in[2], false);
            },
            {x, w, b}, opt));
    }
}

TEST_CASE("gradcheck: layer_norm and group_norm", "[gradcheck][norm]") {
    Generator gen(14);
    const GradCheckOptions opt{5e-4, 3e-2, 3e-3};
    Tensor x = param({3, 4, 5}, gen, -2.0f, 2.0f);
    require_ok(gradcheck([](const auto& in) { return layer_norm(in[0], 1, in[1], in[2]); },
                         {x, param({5}, gen, 0.5f, 1.5f), param({5}, gen)}, opt));
    require_ok(gradcheck([](const auto& in) { return layer_norm(in[0], 2, in[1], in[2]); },
                         {x, param({4, 5}, gen, 0.5f, 1.5f), param({4, 5}, gen)}, opt));
    require_ok(gradcheck([](const auto& in) { return layer_norm(in[0], 3); }, {x}, opt));
    for (int groups : {1, 2, 6}) {
        INFO("groups " << groups);
        Tensor img = param({2, 6, 3, 2}, gen, -2.0f, 2.0f);
        require_ok(gradcheck([groups](const auto& in) { return group_norm(in[0], groups, in[1], in[2]); },
                             {img, param({6}, gen, 0.5f, 1.5f), param({6}, gen)}, opt));
    }
    require_ok(gradcheck([](const auto& in) { return group_norm(in[0], 2); }, {param({1, 4, 5}, gen, -2.0f, 2.0f)}, opt));
}
