// Forward values of ops on small hand-computed cases, and their edge cases and errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "core/random.h"
#include "core/tape.h"

using namespace bnlab;

TEST_CASE("broadcast arithmetic matches hand-computed values", "[ops][elementwise]") {
    Tensor a = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
    Tensor row = Tensor::from_vector({3}, {10, 20, 30});
    Tensor col = Tensor::from_vector({2, 1}, {100, 200});
    CHECK((a + row).to_vector() == std::vector<float>{11, 22, 33, 14, 25, 36});
    CHECK((a * col).to_vector() == std::vector<float>{100, 200, 300, 800, 1000, 1200});
    CHECK((row - col).shape() == Shape{2, 3});
    CHECK((row - col).to_vector() == std::vector<float>{-90, -80, -70, -190, -180, -170});
    CHECK((a / Tensor::scalar(2.0f)).to_vector() == std::vector<float>{0.5f, 1, 1.5f, 2, 2.5f, 3});
    CHECK((2.0f - a).to_vector() == std::vector<float>{1, 0, -1, -2, -3, -4});
    // Per-channel over N,H,W: (2,2,1,2) * (1,2,1,1)
    Tensor img = Tensor::ones({2, 2, 1, 2});
    Tensor per_channel = Tensor::from_vector({1, 2, 1, 1}, {3, 5});
    CHECK((img * per_channel).to_vector() == std::vector<float>{3, 3, 5, 5, 3, 3, 5, 5});
}

TEST_CASE("matmul and linear match hand-computed values", "[ops][matmul]") {
    Tensor a = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
    Tensor b = Tensor::from_vector({3, 2}, {1, 0, 0, 1, 1, 1});
    CHECK(matmul(a, b).to_vector() == std::vector<float>{4, 5, 10, 11});
    Tensor w = Tensor::from_vector({1, 3}, {1, 1, 1});
    CHECK(linear(a, w, Tensor::from_vector({1}, {0.5f})).to_vector() == std::vector<float>{6.5f, 15.5f});
}

TEST_CASE("sum and mean reduce the right axis", "[ops][reduce]") {
    Tensor x = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
    CHECK(sum(x).item() == 21.0f);
    CHECK(mean(x).item() == 3.5f);
    CHECK(sum(x, 0).to_vector() == std::vector<float>{5, 7, 9});
    CHECK(sum(x, 1).to_vector() == std::vector<float>{6, 15});
    CHECK(mean(x, -1, true).shape() == Shape{2, 1});
    CHECK(mean(x, -1, true).to_vector() == std::vector<float>{2, 5});
    CHECK_THROWS_WITH(sum(x, 2), Catch::Contains("sum: dimension 2 out of range for shape (2,3)"));
}

TEST_CASE("activations", "[ops][activation]") {
    Tensor x = Tensor::from_vector({4}, {-2, 0, 0.5f, 100});
    CHECK(relu(x).to_vector() == std::vector<float>{0, 0, 0.5f, 100});
    CHECK(sigmoid(x).at({1}) == 0.5f);
    CHECK(sigmoid(x).at({3}) == 1.0f);
    CHECK(sigmoid(Tensor::from_vector({1}, {-100})).item() >= 0.0f);  // no NaN for large |x|
    CHECK(tanh(x).at({0}) == Approx(std::tanh(-2.0f)));
}

TEST_CASE("cross_entropy is stable for huge logits and matches log_softmax", "[ops][softmax]") {
    Tensor logits = Tensor::from_vector({2, 3}, {1000, 0, -1000, 1, 2, 3});
    const std::vector<int32_t> labels{0, 2};
    const float loss = cross_entropy(logits, labels).item();
    CHECK(std::isfinite(loss));
    Tensor lsm = log_softmax(logits);
    CHECK(loss == Approx(-(lsm.at({0, 0}) + lsm.at({1, 2})) / 2));
    CHECK(lsm.at({0, 0}) == Approx(0.0f).margin(1e-6));
    // -log(e^3 / (e + e^2 + e^3))
    CHECK(-lsm.at({1, 2}) == Approx(std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3.0));
    CHECK_THROWS_WITH(cross_entropy(logits, std::vector<int32_t>{0}), Catch::Contains("1 labels for logits (2,3)"));
    CHECK_THROWS_WITH(cross_entropy(logits, std::vector<int32_t>{0, -1}), Catch::Contains("label -1 at index 1"));
}

TEST_CASE("conv2d matches a direct convolution", "[ops][conv]") {
    Generator gen(21);
    Tensor x = Tensor::randn({2, 3, 6, 5}, gen), w = Tensor::randn({4, 3, 3, 3}, gen), b = Tensor::randn({4}, gen);
    for (int stride : {1, 2}) {
        for (int pad : {0, 1}) {
            Tensor y = conv2d(x, w, b, stride, pad);
            const int64_t Ho = (6 + 2 * pad - 3) / stride + 1, Wo = (5 + 2 * pad - 3) / stride + 1;
            REQUIRE(y.shape() == Shape{2, 4, Ho, Wo});
            for (int64_t n = 0; n < 2; ++n)
                for (int64_t f = 0; f < 4; ++f)
                    for (int64_t oh = 0; oh < Ho; ++oh)
                        for (int64_t ow = 0; ow < Wo; ++ow) {
                            double acc = b.at({f});
                            for (int64_t c = 0; c < 3; ++c)
                                for (int64_t i = 0; i < 3; ++i)
                                    for (int64_t j = 0; j < 3; ++j) {
                                        const int64_t h = oh * stride - pad + i, ww = ow * stride - pad + j;
                                        if (h >= 0 && h < 6 && ww >= 0 && ww < 5) acc += x.at({n, c, h, ww}) * w.at({f, c, i, j});
                                    }
                            CHECK(y.at({n, f, oh, ow}) == Approx(acc).margin(1e-5));
                        }
        }
    }
}

TEST_CASE("pooling: values, default stride, NaN propagation, bad settings", "[ops][pool]") {
    Tensor x = Tensor::from_vector({1, 1, 4, 4}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
    CHECK(max_pool2d(x, 2).to_vector() == std::vector<float>{6, 8, 14, 16});
    CHECK(avg_pool2d(x, 2).to_vector() == std::vector<float>{3.5f, 5.5f, 11.5f, 13.5f});
    // With padding 1, the corner window of avg_pool2d counts the padded zeros (count_include_pad).
    CHECK(avg_pool2d(x, 3, 1, 1).at({0, 0, 0, 0}) == Approx((1 + 2 + 5 + 6) / 9.0f));
    CHECK(global_avg_pool2d(x).item() == 8.5f);
    x.at({0, 0, 0, 1}) = std::numeric_limits<float>::quiet_NaN();
    CHECK(std::isnan(max_pool2d(x, 2).at({0, 0, 0, 0})));
    CHECK_THROWS_WITH(max_pool2d(x, 2, 2, 2), Catch::Contains("padding <= kernel/2"));
    CHECK_THROWS_WITH(avg_pool2d(x, 5), Catch::Contains("larger than the padded input"));
}

TEST_CASE("dropout: inverted scaling, identity in eval, reproducible masks", "[ops][dropout]") {
    Tensor x = Tensor::ones({100000});
    Generator g1(5), g2(5);
    Tensor y1 = dropout(x, 0.25f, true, g1), y2 = dropout(x, 0.25f, true, g2);
    CHECK(y1.to_vector() == y2.to_vector());
    int64_t zeros = 0, others = 0;
    double total = 0;
    for (float v : y1.values()) {
        zeros += v == 0.0f;
        others += v != 0.0f && v != 1.0f / 0.75f;
        total += v;
    }
    CHECK(others == 0);  // every element is dropped or scaled by 1/(1-p)
    CHECK(std::fabs(static_cast<double>(zeros) / 100000 - 0.25) < 0.01);
    CHECK(std::fabs(total / 100000 - 1.0) < 0.02);  // expectation preserved
    CHECK(dropout(x, 0.5f, false, g1).same(x));
    CHECK(sum(dropout(x, 1.0f, true, g1)).item() == 0.0f);
    CHECK_THROWS_WITH(dropout(x, 1.5f, true, g1), Catch::Contains("dropout: probability must be in [0, 1]"));
}

TEST_CASE("batch_norm: normalizes per channel, updates running statistics, checks inputs", "[ops][norm]") {
    // Channel 0 holds 1..4, channel 1 holds 10,10,10,10 (zero variance).
    Tensor x = Tensor::from_vector({4, 2}, {1, 10, 2, 10, 3, 10, 4, 10});
    Tensor rm = Tensor::zeros({2}), rv = Tensor::ones({2});
    Tensor y = batch_norm(x, rm, rv, Tensor(), Tensor(), true, 0.1, 1e-5);
    const float rstd = 1.0f / std::sqrt(1.25f + 1e-5f);  // biased var of 1..4 = 1.25
    CHECK(y.at({0, 0}) == Approx(-1.5f * rstd));
    CHECK(y.at({3, 0}) == Approx(1.5f * rstd));
    CHECK(y.at({0, 1}) == 0.0f);
    CHECK(rm.at({0}) == Approx(0.25f));                                // 0.9*0 + 0.1*2.5
    CHECK(rv.at({0}) == Approx(0.9f + 0.1f * 1.25f * 4.0f / 3.0f));     // unbiased: 5/3
    CHECK(rm.at({1}) == Approx(1.0f));
    CHECK(rv.at({1}) == Approx(0.9f));
    // Eval uses the running statistics and changes nothing.
    Tensor e = batch_norm(x, rm, rv, Tensor(), Tensor(), false);
    CHECK(e.at({0, 0}) == Approx((1.0f - 0.25f) / std::sqrt(rv.at({0}) + 1e-5f)));
    CHECK(rm.at({0}) == Approx(0.25f));
    // One value per channel in training is an error, as in PyTorch; batch 1 with an image is fine.
    CHECK_THROWS_WITH(batch_norm(Tensor::ones({1, 4}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                      Catch::Contains("expected more than 1 value per channel when training, got input size (1,4)"));
    CHECK_NOTHROW(batch_norm(Tensor::ones({1, 2, 3, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true));
    CHECK_THROWS_WITH(batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), false), Catch::Contains("evaluation mode needs"));
    CHECK_THROWS_WITH(batch_norm(x, Tensor::zeros({3}), Tensor::ones({3}), Tensor(), Tensor(), true),
                      Catch::Contains("running_mean (3) does not match input (4,2) with 2 channels"));
}

TEST_CASE("batch_norm statistics stay accurate when |mean| >> std", "[ops][norm]") {
    // float32 values 1e4 + {0, 0.5, 1, ...}: a naive E[x^2] - E[x]^2 in float loses everything.
    std::vector<float> v;
    for (int i = 0; i < 64; ++i) v.push_back(10000.0f + 0.5f * static_cast<float>(i % 4));
    Tensor x = Tensor::from_vector({64, 1}, v);
    Tensor y = batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true);
    CHECK(y.at({0, 0}) == Approx(-1.3416f).epsilon(1e-3));  // (0 - 0.75) / sqrt(0.3125)
}

TEST_CASE("layer_norm and group_norm normalize the right sets", "[ops][norm]") {
    Generator gen(22);
    Tensor x = Tensor::randn({2, 4, 3}, gen, 5.0f, 2.0f);
    Tensor y = layer_norm(x, 2);
    for (int64_t n = 0; n < 2; ++n) {
        double m = 0, s = 0;
        for (int64_t c = 0; c < 4; ++c)
            for (int64_t l = 0; l < 3; ++l) m += y.at({n, c, l});
        for (int64_t c = 0; c < 4; ++c)
            for (int64_t l = 0; l < 3; ++l) s += std::pow(y.at({n, c, l}) - m / 12, 2);
        CHECK(m / 12 == Approx(0).margin(1e-5));
        CHECK(s / 12 == Approx(1).epsilon(1e-3));
    }
    Tensor g = group_norm(x, 2);  // groups: channels {0,1} and {2,3}
    double m = 0;
    for (int64_t c = 0; c < 2; ++c)
        for (int64_t l = 0; l < 3; ++l) m += g.at({1, c, l});
    CHECK(m / 6 == Approx(0).margin(1e-5));
    // GroupNorm with one group per channel is InstanceNorm; with one group it is LayerNorm over (C,*).
    CHECK(allclose(group_norm(x, 1), layer_norm(x, 2), 1e-5f, 1e-5f));
}

TEST_CASE("ops give the same bits run to run and agree across thread counts", "[ops][determinism]") {
    Generator gen(23);
    Tensor x = Tensor::randn({8, 16, 12, 12}, gen), w = Tensor::randn({32, 16, 3, 3}, gen), b = Tensor::randn({32}, gen);
    Tensor gamma = Tensor::randn({32}, gen), beta = Tensor::randn({32}, gen);
    const auto run = [&](int threads) {
        set_num_threads(threads);
        Tensor xs = x.clone(), ws = w.clone();
        xs.set_requires_grad();
        ws.set_requires_grad();
        Tape tape;
        Tensor h = max_pool2d(relu(batch_norm(conv2d(xs, ws, b, 1, 1), Tensor(), Tensor(), gamma, beta, true)), 2);
        tape.backward(sum(h * h));
        return std::vector<Tensor>{h, xs.grad(), ws.grad()};
    };
    const auto a1 = run(1), a2 = run(1), b2 = run(2), c2 = run(2);
    for (size_t i = 0; i < a1.size(); ++i) {
        CHECK(a1[i].to_vector() == a2[i].to_vector());  // bit-identical, same thread count
        CHECK(b2[i].to_vector() == c2[i].to_vector());
        CHECK(allclose(b2[i], a1[i], 1e-4f, 1e-4f));  // float rounding across thread counts
    }
    set_num_threads(2);
}
