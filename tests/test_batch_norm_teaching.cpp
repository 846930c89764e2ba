// BatchNorm three ways, each checking the others: the plain loops (core/ops/batch_norm_reference),
// the version composed from ops whose backward the tape derives (core/ops/batch_norm_composed),
// and the fused kernel (core/ops/batch_norm.cpp, checked against the plain loops on many shapes
// in test_kernels.cpp). Plus the small ops the composed version needs.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/ops.h"
#include "core/ops/batch_norm_composed.h"
#include "core/ops/batch_norm_reference.h"
#include "core/random.h"
#include "core/tape.h"
#include "tests/gradcheck.h"

using namespace bnlab;
using bnlab::testing::gradcheck;
using bnlab::testing::GradCheckOptions;
using bnlab::testing::param;
using bnlab::testing::require_ok;

namespace {

void add_into_grad(const Tensor& t, const Tensor& g) {
    if (!t.defined() || !t.requires_grad()) return;
    float* dst = grad_buffer(t);
    for (int64_t i = 0; i < t.numel(); ++i) dst[i] += g.data()[i];
}

// The plain-loop BatchNorm as a tape op (forward, then a backward closure calling
// reference::batch_norm_backward), so that the finite-difference checker can test it.
Tensor reference_batch_norm_op(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& running_mean,
                               const Tensor& running_var, bool training) {
    reference::BatchNormResult r = reference::batch_norm_forward(
        x, running_mean.defined() ? running_mean.clone() : Tensor(),
        running_var.defined() ? running_var.clone() : Tensor(), w, b, training);
    if (Tape* tape = recording_tape({&x, &w, &b}))
        tape->record("reference_batch_norm", {x, w, b}, r.y, [x, w, b, saved = r.saved](const Tensor& gy) {
            const reference::BatchNormGrads g = reference::batch_norm_backward(x, w, saved, gy);
            add_into_grad(x, g.x);
            add_into_grad(w, g.weight);
            add_into_grad(b, g.bias);
        });
    return r.y;
}

// max |a - e| <= tol * max(1, max |e|)
void check_close(const Tensor& actual, const Tensor& expected, const std::string& what, double tol = 1e-4) {
    INFO(what);
    REQUIRE(actual.defined());
    REQUIRE(actual.shape() == expected.shape());
    double scale = 1.0, worst = 0.0;
    for (int64_t i = 0; i < expected.numel(); ++i) {
        scale = std::max(scale, static_cast<double>(std::fabs(expected.data()[i])));
        worst = std::max(worst, static_cast<double>(std::fabs(actual.data()[i] - expected.data()[i])));
    }
    CHECK(worst <= tol * scale);
}

// BN-stiff finite differences (it divides by the batch std): a smaller step.
const GradCheckOptions kNormOptions{5e-4, 3e-2, 3e-3};

}  // namespace

TEST_CASE("plain-loop BatchNorm's hand-written backward and composed BatchNorm's tape-derived one match finite differences",
          "[batch_norm][teaching]") {
    Generator gen(31);
    for (const Shape& s : {Shape{4, 3}, Shape{2, 3, 5}, Shape{3, 2, 3, 3}, Shape{2, 1, 1, 1}}) {
        INFO("shape " << s.str());
        const int64_t C = s[1];
        Tensor x = param(s, gen, -2.0f, 2.0f), w = param({C}, gen, 0.5f, 1.5f), b = param({C}, gen, -1.0f, 1.0f);
        const Tensor rm = Tensor::uniform({C}, gen, -0.5f, 0.5f), rv = Tensor::uniform({C}, gen, 0.5f, 2.0f);
        for (bool training : {true, false}) {
            INFO((training ? "training" : "evaluation"));
            require_ok(gradcheck(
                [&](const auto& in) { return reference_batch_norm_op(in[0], in[1], in[2], rm, rv, training); },
                {x, w, b}, kNormOptions));
            require_ok(gradcheck(
                [&](const auto& in) { return reference_batch_norm_op(in[0], Tensor(), Tensor(), rm, rv, training); },
                {x}, kNormOptions));
        }
        require_ok(gradcheck([](const auto& in) { return batch_norm_composed(in[0], in[1], in[2]); }, {x, w, b},
                             kNormOptions));
        require_ok(gradcheck([](const auto& in) { return batch_norm_composed(in[0]); }, {x}, kNormOptions));
    }
}

TEST_CASE("plain-loop BatchNorm: normalized output, running statistics, clear errors", "[batch_norm][teaching]") {
    // Channel 0 holds 1, 2, 3, 4 (mean 2.5, biased var 1.25); channel 1 is constant 7 (var 0).
    const Tensor x = Tensor::from_vector({4, 2}, {1, 7, 2, 7, 3, 7, 4, 7});
    Tensor rm = Tensor::zeros({2}), rv = Tensor::ones({2});
    const reference::BatchNormResult r = reference::batch_norm_forward(x, rm, rv, Tensor(), Tensor(), true, 0.1, 0.0);
    const double sd = std::sqrt(1.25);
    CHECK(r.y.at({0, 0}) == Approx(-1.5 / sd));
    CHECK(r.y.at({3, 0}) == Approx(1.5 / sd));
    CHECK(r.saved.mean[0] == Approx(2.5));
    // running = 0.9 running + 0.1 stat, with the unbiased variance 1.25 * 4/3
    CHECK(rm.at({0}) == Approx(0.25));
    CHECK(rv.at({0}) == Approx(0.9 + 0.1 * 1.25 * 4.0 / 3.0));
    CHECK(rm.at({1}) == Approx(0.7));
    CHECK(rv.at({1}) == Approx(0.9));
    // Evaluation uses the running statistics and updates nothing.
    const reference::BatchNormResult e = reference::batch_norm_forward(x, rm, rv, Tensor(), Tensor(), false, 0.1, 0.0);
    CHECK(e.y.at({0, 0}) == Approx((1.0 - 0.25) / std::sqrt(rv.at({0}))));
    CHECK(rm.at({0}) == Approx(0.25));
    CHECK_THROWS_WITH(reference::batch_norm_forward(x, Tensor(), Tensor(), Tensor(), Tensor(), false),
                      Catch::Contains("evaluation needs running_mean"));
    CHECK_THROWS_WITH(reference::batch_norm_forward(Tensor::ones({1, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                      Catch::Contains("more than 1 value per channel"));
}

TEST_CASE("square and rsqrt: values and finite-difference gradients", "[gradcheck][activation]") {
    const Tensor v = Tensor::from_vector({3}, {-2.0f, 0.5f, 4.0f});
    CHECK(square(v).to_vector() == std::vector<float>{4.0f, 0.25f, 16.0f});
    CHECK(rsqrt(Tensor::from_vector({2}, {4.0f, 0.25f})).to_vector() == std::vector<float>{0.5f, 2.0f});
    Generator gen(32);
    for (const Shape& s : {Shape{7}, Shape{2, 3, 2, 2}}) {
        Tensor x = param(s, gen, -3.0f, 3.0f);
        require_ok(gradcheck([](const auto& in) { return square(in[0]); }, {x}));
        Tensor positive = param(s, gen, 0.3f, 3.0f);
        require_ok(gradcheck([](const auto& in) { return rsqrt(in[0]); }, {positive}));
    }
}

TEST_CASE("BatchNorm composed from ops: its tape gradients equal the fused kernel's and the plain loops'",
          "[batch_norm][teaching]") {
    // The tape's gradient comes from the chain rule through sub, square, mean, rsqrt, mul and
    // add, none of which knows about BatchNorm; the fused kernel and the plain loops use the
    // hand-derived formula. Agreement shows the derivation is right.
    Generator gen(34);
    for (const Shape& s : {Shape{2, 3}, Shape{5, 17}, Shape{3, 5, 2, 2}, Shape{1, 19, 3, 3}, Shape{4, 6, 7}}) {
        INFO("shape " << s.str());
        const int64_t C = s[1];
        const Tensor x0 = Tensor::randn(s, gen, 1.0f, 2.0f), w0 = Tensor::randn({C}, gen, 1.0f, 0.5f);
        const Tensor b0 = Tensor::randn({C}, gen), dy = Tensor::randn(s, gen);
        struct Run {
            Tensor y, dx, dw, db;
        };
        std::vector<const char*> composed_ops;
        const auto run = [&](bool composed) {
            Tensor x = x0.clone(), w = w0.clone(), b = b0.clone();
            x.set_requires_grad();
            w.set_requires_grad();
            b.set_requires_grad();
            Tape tape;
            Tensor y = composed ? batch_norm_composed(x, w, b, 1e-5)
                                : batch_norm(x, Tensor(), Tensor(), w, b, /*training=*/true, 0.1, 1e-5);
            if (composed) composed_ops = tape.op_names();
            tape.backward(y, dy);
            return Run{y, x.grad(), w.grad(), b.grad()};
        };
        const Run fused = run(false), composed = run(true);
        const reference::BatchNormResult ref = reference::batch_norm_forward(x0, Tensor(), Tensor(), w0, b0, true);
        const reference::BatchNormGrads plain = reference::batch_norm_backward(x0, w0, ref.saved, dy);

        check_close(composed.y, fused.y, "y: composed vs fused");
        check_close(composed.dx, fused.dx, "dx: composed vs fused");
        check_close(composed.dw, fused.dw, "dgamma: composed vs fused");
        check_close(composed.db, fused.db, "dbeta: composed vs fused");
        check_close(composed.dx, plain.x, "dx: composed vs plain loops");
        check_close(composed.dw, plain.weight, "dgamma: composed vs plain loops");
        // It really is a composition: no batch_norm entry, and the pieces are there.
        std::vector<std::string> names(composed_ops.begin(), composed_ops.end());
        CHECK(std::find(names.begin(), names.end(), "batch_norm") == names.end());
        for (const char* op : {"mean", "sub", "square", "rsqrt", "mul", "add"})
            CHECK(std::find(names.begin(), names.end(), op) != names.end());
    }
}

TEST_CASE("BatchNorm composed from ops: bad input is a clear error", "[batch_norm][teaching]") {
    CHECK_THROWS_WITH(batch_norm_composed(Tensor::ones({5})), Catch::Contains("(N,C,...)"));
}
