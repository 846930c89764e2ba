// The optimized kernels of core/ops against their plain reference versions
// (core/ops/reference.h, core/ops/batch_norm_reference.h) on random shapes: odd sizes, batch 1,
// channels that are not a multiple of 8, strides and paddings; forward and backward, with 1
// and 2 threads, into fresh and into already existing gradients. And the determinism
// guarantees: 1 and 2 threads agree to float rounding; the same thread count gives the same
// bits. Products run on both sgemm libraries: OpenBLAS (the portable kernels) and BLIS (the
// avx512 kernels; with BLIS's own configuration for this CPU where it has no AVX-512, so the
// BLIS path is checked everywhere).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <thread>

#include "core/cpu.h"
#include "core/ops.h"
#include "core/ops/batch_norm_reference.h"
#include "core/ops/blas.h"
#include "core/ops/direct_conv.h"
#include "core/ops/reference.h"
#include "core/ops/winograd.h"
#include "core/parallel.h"
#include "core/random.h"
#include "core/tape.h"
#include "train/trainer.h"
#include "models/zoo.h"
#include "optim/sgd.h"

using namespace bnlab;

namespace {

// Sets the thread count for a scope.
struct Threads {
    explicit Threads(int n) : saved(num_threads()) { set_num_threads(n); }
    ~Threads() { set_num_threads(saved); }
    int saved;
};

// max |actual - expected| <= tolerance * max(1, max |expected|), NaNs in the same places.
void check_close(const Tensor& actual, const Tensor& expected, const std::string& what, double tolerance = 2e-5) {
    INFO(what << " " << actual.shape().str());
    REQUIRE(actual.shape() == expected.shape());
    double scale = 1.0, worst = 0.0;
    for (float e : expected.values())
        if (std::isfinite(e)) scale = std::max(scale, static_cast<double>(std::fabs(e)));
    for (int64_t i = 0; i < actual.numel(); ++i) {
        const float a = actual.data()[i], e = expected.data()[i];
        if (std::isnan(e) || std::isnan(a)) {
            REQUIRE(std::isnan(a) == std::isnan(e));
            continue;
        }
        worst = std::max(worst, static_cast<double>(std::fabs(a - e)));
    }
    CHECK(worst <= tolerance * scale);
}

struct VJP {
    Tensor y;
    std::vector<Tensor> grads;  // of each input (undefined inputs: undefined)
};

// y = op(inputs) under a tape, then backward with output gradient gy. With `preexisting`, each
// input's gradient starts at those values, so the kernel must add to it, not overwrite it.
VJP run_vjp(const std::function<Tensor(const std::vector<Tensor>&)>& op, std::vector<Tensor> inputs,
            const Tensor& gy, const std::vector<Tensor>& preexisting = {}) {
    for (size_t i = 0; i < inputs.size(); ++i) {
        if (!inputs[i].defined()) continue;
        inputs[i] = inputs[i].clone();
        inputs[i].set_requires_grad();
        if (i < preexisting.size()) {
            float* g = grad_buffer(inputs[i]);
            for (int64_t j = 0; j < inputs[i].numel(); ++j) g[j] = preexisting[i].data()[j];
        }
    }
    Tape tape;
    VJP out{op(inputs), {}};
    tape.backward(out.y, gy);
    for (const Tensor& in : inputs) out.grads.push_back(in.defined() ? in.grad() : Tensor());
    return out;
}

Tensor add_tensors(const Tensor& a, const Tensor& b) {
    Tensor out = a.clone();
    for (int64_t i = 0; i < a.numel(); ++i) out.data()[i] += b.data()[i];
    return out;
}

// Checks one op: forward against `expected_y`, and each input's gradient against `expected`,
// once into fresh gradients and once on top of existing ones, with 1 and 2 threads.
void check_op(const std::string& name, const std::function<Tensor(const std::vector<Tensor>&)>& op,
              const std::vector<Tensor>& inputs, const Tensor& expected_y, const std::vector<Tensor>& expected,
              const Tensor& gy, Generator& gen, double tolerance = 2e-5) {
    std::vector<Tensor> seeds;
    for (const Tensor& in : inputs) seeds.push_back(in.defined() ? Tensor::randn(in.shape(), gen) : Tensor());
    for (int threads : {1, 2}) {
        const Threads t(threads);
        const std::string where = name + ", " + std::to_string(threads) + " thread(s)";
        const VJP fresh = run_vjp(op, inputs, gy);
        check_close(fresh.y, expected_y, where + ": forward", tolerance);
        const VJP added = run_vjp(op, inputs, gy, seeds);
        for (size_t i = 0; i < inputs.size(); ++i) {
            if (!expected[i].defined()) continue;
            check_close(fresh.grads[i], expected[i], where + ": gradient of input " + std::to_string(i), tolerance);
            check_close(added.grads[i], add_tensors(expected[i], seeds[i]),
                        where + ": gradient of input " + std::to_string(i) + " added to an existing one", tolerance);
        }
    }
}

}  // namespace

namespace {

// conv2d against the direct convolution, forward and backward, on the sgemm library in use.
void check_conv2d_shapes() {
    struct Case {
        int64_t N, C, H, W, F, kh, kw;
        int stride, padding;
        bool bias;
    };
    const Case cases[] = {
        {1, 1, 7, 9, 5, 3, 3, 1, 1, true},    // batch 1 (fewer images than threads), K = 9
        {3, 3, 11, 10, 13, 3, 3, 1, 1, false},
        {5, 13, 9, 7, 7, 3, 3, 2, 1, true},    // stride 2, odd sizes
        {2, 5, 8, 8, 17, 5, 5, 1, 2, false},   // padding 2
        {4, 9, 6, 13, 3, 1, 1, 1, 0, true},    // 1x1
        {3, 2, 12, 9, 6, 3, 2, 3, 0, true},    // rectangular kernel, stride 3, no padding
        {2, 4, 5, 5, 4, 5, 5, 1, 0, false},    // kernel as large as the image
        {2, 3, 2, 2, 5, 5, 5, 1, 2, true},     // "same" padding on a 2x2 image: kernel entries off the image
        {3, 2, 1, 6, 4, 3, 3, 1, 1, false},    // a single image row
        {1, 35, 20, 20, 45, 3, 3, 1, 1, true}, // batch 1, channels not multiples of 16, sgemm split over threads
        {2, 1, 28, 28, 37, 5, 5, 1, 0, true},  // 5x5 first layer, K = 25
    };
    Generator gen(11);
    for (const Case& c : cases) {
        const Tensor x = Tensor::randn({c.N, c.C, c.H, c.W}, gen);
        const Tensor w = Tensor::randn({c.F, c.C, c.kh, c.kw}, gen);
        const Tensor b = c.bias ? Tensor::randn({c.F}, gen) : Tensor();
        const Tensor y = reference::conv2d(x, w, b, c.stride, c.padding);
        const Tensor gy = Tensor::randn(y.shape(), gen);
        const reference::Grads g = reference::conv2d_backward(x, w, c.bias, c.stride, c.padding, gy);
        check_op("conv2d " + x.shape().str() + " * " + w.shape().str(),
                 [&](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], c.stride, c.padding); },
                 {x, w, b}, y, {g.x, g.weight, g.bias}, gy, gen);
    }
}

}  // namespace

TEST_CASE("conv2d matches the direct convolution on random shapes", "[kernels][conv]") {
    const detail::ScopedGemmLibrary library(detail::GemmLibrary::openblas);
    check_conv2d_shapes();
}

TEST_CASE("conv2d on BLIS (the avx512 kernels' library) matches the direct convolution", "[kernels][conv][blis]") {
    const detail::ScopedGemmLibrary library(detail::GemmLibrary::blis);
    check_conv2d_shapes();
}

namespace {

// conv2d forced onto one of its 3x3 algorithms, against the plain loop (reference::conv2d).
void check_3x3_algorithm(detail::ConvAlgorithm algorithm, const std::string& name, uint64_t seed) {
    const detail::ScopedConvAlgorithm forced(algorithm);
    struct Case {
        int64_t N, C, H, W, F;
        int padding;
        bool bias;
    };
    const Case cases[] = {
        {2, 3, 7, 9, 5, 1, true},     // odd sizes: the last tiles hang over the edge
        {3, 17, 8, 8, 19, 1, false},  // channels not multiples of 16
        {2, 5, 6, 11, 4, 0, true},    // padding 0 (the input gradient pads by 2)
        {2, 4, 5, 5, 6, 2, false},    // padding 2 (the input gradient pads by 0)
        {2, 2, 2, 2, 3, 2, true},     // a 2x2 image: most of every patch is padding
        {4, 1, 3, 3, 2, 0, true},     // one output pixel per image
        {2, 33, 16, 16, 64, 1, true}, // cifar-cnn-like
        {3, 8, 28, 28, 9, 1, false},  // plain-cnn-like, 9 outputs: a partial block of 4
        {1, 3, 32, 30, 16, 1, true},  // batch 1, a first layer on a non-square image
        {2, 5, 8, 8, 6, 1, true},     // output width a multiple of 8 (direct: dy read in place), a partial block
        {2, 3, 10, 18, 7, 0, false},  // the same with padding 0 (8 x 16 outputs)
    };
    Generator gen(seed);
    for (const Case& c : cases) {
        const Tensor x = Tensor::randn({c.N, c.C, c.H, c.W}, gen);
        const Tensor w = Tensor::randn({c.F, c.C, 3, 3}, gen);
        const Tensor b = c.bias ? Tensor::randn({c.F}, gen) : Tensor();
        const Tensor y = reference::conv2d(x, w, b, 1, c.padding);
        const Tensor gy = Tensor::randn(y.shape(), gen);
        const reference::Grads g = reference::conv2d_backward(x, w, c.bias, 1, c.padding, gy);
        check_op(name + " conv2d " + x.shape().str() + " * " + w.shape().str(),
                 [&](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], 1, c.padding); },
                 {x, w, b}, y, {g.x, g.weight, g.bias}, gy, gen);
    }
}

}  // namespace

TEST_CASE("conv2d by Winograd F(2x2, 3x3) matches the direct convolution, forward and both gradients",
          "[kernels][conv][winograd]") {
    check_3x3_algorithm(detail::ConvAlgorithm::winograd, "winograd", 21);
}

TEST_CASE("conv2d by the direct AVX2 loop matches the plain convolution, forward and both gradients",
          "[kernels][conv][direct]") {
    if (!detail::direct_conv_supported()) {
        WARN("this CPU has no AVX2 + FMA: the direct loop cannot run here (conv2d uses im2col)");
        return;
    }
    check_3x3_algorithm(detail::ConvAlgorithm::direct, "direct", 23);
}

TEST_CASE("Winograd's image kernels alone: one image, forward, input gradient and weight gradient",
          "[kernels][conv][winograd]") {
    // Straight on the kernel, so that a wrong transform cannot hide behind conv2d's choice.
    Generator gen(22);
    const int64_t C = 5, F = 7, H = 9, W = 6;
    for (const int64_t pad : {0, 1, 2}) {
        const Tensor x = Tensor::randn({1, C, H, W}, gen), w = Tensor::randn({F, C, 3, 3}, gen);
        const detail::WinogradShape shape{C, H, W, F, pad};
        std::vector<float> U(16 * F * C), work(static_cast<size_t>(shape.workspace()));
        detail::winograd_weights(w.data(), F, C, false, U.data());
        Tensor y = Tensor::zeros({1, F, shape.Ho(), shape.Wo()});
        detail::winograd_conv_image(shape, U.data(), x.data(), y.data(), false, work.data(), detail::Gemm{});
        check_close(y, reference::conv2d(x, w, Tensor(), 1, static_cast<int>(pad)), "forward, pad " + std::to_string(pad));
        // dx = the convolution of dy with w turned around and its channel axes swapped, padding 2 - pad.
        const Tensor gy = Tensor::randn(y.shape(), gen);
        const detail::WinogradShape flipped{F, shape.Ho(), shape.Wo(), C, 2 - pad};
        std::vector<float> Uf(16 * F * C), work_f(static_cast<size_t>(flipped.workspace()));
        detail::winograd_weights(w.data(), C, F, true, Uf.data());
        Tensor dx = Tensor::zeros({1, C, H, W});
        detail::winograd_conv_image(flipped, Uf.data(), gy.data(), dx.data(), false, work_f.data(), detail::Gemm{});
        const reference::Grads expected = reference::conv2d_backward(x, w, false, 1, static_cast<int>(pad), gy);
        check_close(dx, expected.x, "input gradient, pad " + std::to_string(pad));
        // dweight by the transposed algorithm: the image's share into Mw, then G^T Mw G.
        std::vector<float> Mw(16 * F * C, 0.0f);
        detail::winograd_weight_grad_image(shape, x.data(), gy.data(), Mw.data(), work.data(), detail::Gemm{});
        Tensor dw = Tensor::zeros(w.shape());
        detail::winograd_weight_grad_finish(Mw.data(), F, C, dw.data());
        check_close(dw, expected.weight, "weight gradient, pad " + std::to_string(pad));
    }
}

TEST_CASE("conv2d without an input gradient (the first layer) still gives weight and bias gradients",
          "[kernels][conv]") {
    Generator gen(12);
    const Tensor x = Tensor::randn({3, 1, 9, 9}, gen);
    Tensor w = Tensor::randn({6, 1, 3, 3}, gen), b = Tensor::randn({6}, gen);
    w.set_requires_grad();
    b.set_requires_grad();
    Tape tape;
    const Tensor y = conv2d(x, w, b, 1, 1);
    const Tensor gy = Tensor::randn(y.shape(), gen);
    tape.backward(y, gy);
    const reference::Grads g = reference::conv2d_backward(x, w, true, 1, 1, gy);
    CHECK_FALSE(x.grad().defined());
    check_close(w.grad(), g.weight, "weight");
    check_close(b.grad(), g.bias, "bias");
}

TEST_CASE("batch_norm matches the plain-loop BatchNorm in training and evaluation", "[kernels][batch_norm]") {
    // The oracle is core/ops/batch_norm_reference.cpp. Shapes: 2D (N,C), 3D and 4D; batch 1
    // (evaluation only: training needs 2+ values per channel); N*H*W = 2; channel counts that
    // are not multiples of 16, and more channels than one block (kChannelBlock = 64).
    struct Case {
        Shape shape;
        bool train;
    };
    const Case cases[] = {
        {{1, 3, 5, 7}, true}, {{1, 5}, false},  {{1, 7, 1, 1}, false}, {{2, 3, 1, 1}, true}, {{2, 19}, true},
        {{4, 13, 3, 3}, true}, {{8, 5}, true}, {{3, 17, 9}, true},     {{2, 9, 16, 16}, true}, {{2, 70, 2, 3}, true},
    };
    Generator gen(13);
    for (const Case& c : cases) {
        const Shape& shape = c.shape;
        const int64_t C = shape[1];
        // An offset mean tests the statistics' accuracy when |mean| >> std.
        const Tensor x = Tensor::randn(shape, gen, 3.0f, 2.0f);
        const Tensor gamma = Tensor::randn({C}, gen, 1.0f, 0.5f), beta = Tensor::randn({C}, gen);
        const Tensor rmean = Tensor::randn({C}, gen), rvar = Tensor::uniform({C}, gen, 0.5f, 2.0f);
        const Tensor gy = Tensor::randn(shape, gen);
        for (bool affine : {true, false}) {
            const Tensor w = affine ? gamma : Tensor(), b = affine ? beta : Tensor();
            for (bool training : {true, false}) {
                if (training && !c.train) continue;
                // The reference updates its own copy of the running statistics; the kernel must
                // update its copy the same way.
                const Tensor ref_mean = rmean.clone(), ref_var = rvar.clone();
                const reference::BatchNormResult ref =
                    reference::batch_norm_forward(x, ref_mean, ref_var, w, b, training, 0.1, 1e-5);
                const reference::BatchNormGrads g = reference::batch_norm_backward(x, w, ref.saved, gy);
                const Tensor op_mean = rmean.clone(), op_var = rvar.clone();
                const std::string what = std::string(training ? "train " : "eval ") + (affine ? "affine " : "") + shape.str();
                check_op("batch_norm " + what,
                         [&](const std::vector<Tensor>& in) {
                             return batch_norm(in[0], op_mean.clone(), op_var.clone(), in[1], in[2], training, 0.1, 1e-5);
                         },
                         {x, w, b}, ref.y, {g.x, affine ? g.weight : Tensor(), affine ? g.bias : Tensor()}, gy, gen,
                         1e-4);
                NoTape no_tape;
                (void)batch_norm(x, op_mean, op_var, w, b, training, 0.1, 1e-5);
                check_close(op_mean, ref_mean, "running_mean after " + what, 1e-6);
                check_close(op_var, ref_var, "running_var after " + what, 1e-6);
            }
        }
    }
}

TEST_CASE("group_norm and layer_norm match the reference", "[kernels][norm]") {
    Generator gen(14);
    struct GroupCase {
        Shape shape;
        int groups;
    };
    for (const GroupCase& c : {GroupCase{{1, 6, 5, 7}, 3}, GroupCase{{3, 12, 4, 4}, 4}, GroupCase{{2, 5, 9}, 5},
                               GroupCase{{4, 13}, 1}, GroupCase{{2, 10, 3, 3}, 2}}) {
        const int64_t C = c.shape[1];
        const Tensor x = Tensor::randn(c.shape, gen, -2.0f, 3.0f);
        const Tensor w = Tensor::randn({C}, gen, 1.0f, 0.5f), b = Tensor::randn({C}, gen);
        const Tensor gy = Tensor::randn(c.shape, gen);
        const reference::Grads g = reference::group_norm_backward(x, c.groups, w, 1e-5, gy);
        check_op("group_norm(" + std::to_string(c.groups) + ") " + c.shape.str(),
                 [&](const std::vector<Tensor>& in) { return group_norm(in[0], c.groups, in[1], in[2], 1e-5); },
                 {x, w, b}, reference::group_norm(x, c.groups, w, b, 1e-5), {g.x, g.weight, g.bias}, gy, gen, 1e-4);
    }
    struct LayerCase {
        Shape shape;
        int ndim;
    };
    for (const LayerCase& c : {LayerCase{{5, 7}, 1}, LayerCase{{3, 4, 9}, 2}, LayerCase{{2, 3, 5, 5}, 3},
                               LayerCase{{1, 11}, 1}}) {
        Shape params;
        for (int d = c.shape.size() - c.ndim; d < c.shape.size(); ++d) params.push_back(c.shape[d]);
        const Tensor x = Tensor::randn(c.shape, gen, 1.0f, 2.0f);
        const Tensor w = Tensor::randn(params, gen, 1.0f, 0.5f), b = Tensor::randn(params, gen);
        const Tensor gy = Tensor::randn(c.shape, gen);
        const reference::Grads g = reference::layer_norm_backward(x, c.ndim, w, 1e-5, gy);
        check_op("layer_norm " + c.shape.str(),
                 [&](const std::vector<Tensor>& in) { return layer_norm(in[0], c.ndim, in[1], in[2], 1e-5); },
                 {x, w, b}, reference::layer_norm(x, c.ndim, w, b, 1e-5), {g.x, g.weight, g.bias}, gy, gen, 1e-4);
    }
}

TEST_CASE("max_pool2d matches the reference, NaNs included", "[kernels][pool]") {
    struct Case {
        Shape shape;
        int kernel, stride, padding;
    };
    const Case cases[] = {
        {{1, 3, 7, 9}, 2, 2, 0},     // tiled windows, odd sizes: a row and a column left out
        {{3, 5, 28, 28}, 2, 2, 0},   // mnist-cnn's pool
        {{2, 13, 9, 11}, 3, 3, 0},   // tiled, a kernel known only at run time
        {{2, 3, 9, 8}, 3, 2, 1},     // overlapping windows with padding
        {{1, 2, 6, 7}, 2, 1, 0},     // overlapping, stride 1
        {{2, 4, 130, 6}, 2, 2, 0},   // rows longer than one block of outputs
    };
    Generator gen(15);
    for (const Case& c : cases)
        for (bool with_nans : {false, true}) {
            Tensor x = Tensor::randn(c.shape, gen);
            // Ties (repeated values) and NaNs test "first largest" and "first NaN wins". (Overlapping
            // windows add several gradients to one input, in an order that may round differently.)
            for (int64_t i = 0; i < x.numel(); i += 7) x.data()[i] = x.data()[i / 2];
            if (with_nans)
                for (int64_t i = 3; i < x.numel(); i += 29) x.data()[i] = std::numeric_limits<float>::quiet_NaN();
            const Tensor y = reference::max_pool2d(x, c.kernel, c.stride, c.padding);
            const Tensor gy = Tensor::randn(y.shape(), gen);
            check_op("max_pool2d " + c.shape.str() + " k" + std::to_string(c.kernel) + (with_nans ? " with NaNs" : ""),
                     [&](const std::vector<Tensor>& in) { return max_pool2d(in[0], c.kernel, c.stride, c.padding); },
                     {x}, y, {reference::max_pool2d_backward(x, c.kernel, c.stride, c.padding, gy)}, gy, gen, 1e-6);
        }
}

TEST_CASE("relu matches the reference, small and large tensors", "[kernels][relu]") {
    Generator gen(16);
    for (const Shape& shape : {Shape{7}, Shape{3, 5, 9}, Shape{64, 33, 41}}) {  // the last runs on threads
        const Tensor x = Tensor::randn(shape, gen);
        const Tensor y = reference::relu(x);
        const Tensor gy = Tensor::randn(shape, gen);
        check_op("relu " + shape.str(), [](const std::vector<Tensor>& in) { return relu(in[0]); }, {x}, y,
                 {reference::relu_backward(y, gy)}, gy, gen, 0.0);
    }
}

namespace {

// A few SGD steps of `arch`/`norm` on fixed random batches with `threads` threads: the
// parameters afterwards.
std::vector<std::vector<float>> train_steps(const std::string& arch, const std::string& norm, int threads) {
    const Threads t(threads);
    const InputSpec in = arch == "cifar-cnn" ? InputSpec{3, 16, 16, 10} : InputSpec{1, 12, 12, 10};
    auto model = make_model({.arch = arch, .norm = norm}, in, 3);
    SGD optimizer(model->parameters(), 0.05, {.momentum = 0.9});
    Generator gen(17);
    for (int step = 0; step < 3; ++step) {
        Batch batch{Tensor::randn({8, in.channels, in.height, in.width}, gen), {}, {}};
        for (int i = 0; i < 8; ++i) batch.labels.push_back(static_cast<int32_t>(gen.below(10)));
        train_step(*model, optimizer, batch);
    }
    std::vector<std::vector<float>> params;
    for (const Tensor& p : model->parameters()) params.push_back(p.to_vector());
    return params;
}

}  // namespace

TEST_CASE("training steps: the same thread count gives the same bits, 1 and 2 threads agree to rounding",
          "[kernels][determinism]") {
    for (const std::string arch : {"mnist-cnn", "cifar-cnn"})
        for (const std::string norm : {"none", "bn", "gn"}) {
            INFO(arch << " " << norm);
            const auto two = train_steps(arch, norm, 2);
            CHECK(train_steps(arch, norm, 2) == two);
            const auto one = train_steps(arch, norm, 1);
            CHECK(train_steps(arch, norm, 1) == one);
            REQUIRE(one.size() == two.size());
            for (size_t p = 0; p < one.size(); ++p) {
                const Tensor a = Tensor::from_vector({static_cast<int64_t>(one[p].size())}, one[p]);
                const Tensor b = Tensor::from_vector({static_cast<int64_t>(two[p].size())}, two[p]);
                check_close(b, a, "parameter " + std::to_string(p), 1e-4);
            }
        }
}

namespace {

// C = alpha op(A) op(B) + beta C0 in double, row-major, A stored (K,M) when trans_a and B
// stored (N,K) when trans_b.
Tensor gemm_in_double(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const Tensor& A,
                      const Tensor& B, float beta, const Tensor& C0) {
    Tensor C = C0.clone();
    for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
            double total = 0;
            for (int64_t k = 0; k < K; ++k)
                total += static_cast<double>(A.data()[trans_a ? k * M + m : m * K + k]) *
                         B.data()[trans_b ? n * K + k : k * N + n];
            C.data()[m * N + n] = static_cast<float>(alpha * total + beta * C0.data()[m * N + n]);
        }
    return C;
}

Tensor run_gemm(detail::GemmLibrary library, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                float alpha, const Tensor& A, const Tensor& B, float beta, const Tensor& C0) {
    const detail::ScopedGemmLibrary scoped(library);
    Tensor C = C0.clone();
    detail::gemm(trans_a, trans_b, M, N, K, alpha, A.data(), B.data(), beta, C.data());
    return C;
}

bool same_bits(const Tensor& a, const Tensor& b) {
    return a.numel() == b.numel() && std::memcmp(a.data(), b.data(), sizeof(float) * a.numel()) == 0;
}

}  // namespace

TEST_CASE("sgemm: BLIS and OpenBLAS agree with a double product on odd shapes, transposes and beta",
          "[kernels][gemm][blis]") {
    struct Shape {
        int64_t M, N, K;
    };
    // Sizes off every register block (not multiples of 16 or 6), K = 1, 9, 25, and products
    // above detail::kGemmParallelMin, split by rows (M >= N) or by columns.
    const Shape shapes[] = {{1, 1, 1},     {7, 5, 9},       {17, 33, 9},   {13, 1, 25},
                            {1, 130, 27},  {31, 47, 1},     {100, 3, 250}, {257, 129, 131},
                            {29, 701, 211}, {6, 1024, 1000}};
    Generator gen(21);
    for (const Shape& s : shapes)
        for (const bool trans_a : {false, true})
            for (const bool trans_b : {false, true})
                for (const float beta : {0.0f, 1.0f}) {
                    const Tensor A = Tensor::randn({s.M * s.K}, gen), B = Tensor::randn({s.K * s.N}, gen);
                    const Tensor C0 = Tensor::randn({s.M * s.N}, gen);
                    const Tensor expected = gemm_in_double(trans_a, trans_b, s.M, s.N, s.K, 0.5f, A, B, beta, C0);
                    for (const int threads : {1, 2}) {
                        const Threads t(threads);
                        INFO(s.M << "x" << s.N << "x" << s.K << " trans " << trans_a << trans_b << " beta " << beta
                                 << " threads " << threads);
                        for (const auto library : {detail::GemmLibrary::openblas, detail::GemmLibrary::blis}) {
                            const Tensor C = run_gemm(library, trans_a, trans_b, s.M, s.N, s.K, 0.5f, A, B, beta, C0);
                            // float rounding over K terms of size ~1: |error| <~ K * 2^-24 * sqrt-ish growth
                            check_close(C, expected, library == detail::GemmLibrary::blis ? "BLIS" : "OpenBLAS",
                                        1e-6 * static_cast<double>(s.K + 8));
                            CHECK(same_bits(run_gemm(library, trans_a, trans_b, s.M, s.N, s.K, 0.5f, A, B, beta, C0), C));
                        }
                    }
                }
}

TEST_CASE("training steps on BLIS: the same thread count gives the same bits and OpenBLAS's result to rounding",
          "[kernels][determinism][blis]") {
    for (const std::string arch : {"mnist-cnn", "cifar-cnn"}) {
        INFO(arch);
        const auto portable = [&] {
            const detail::ScopedGemmLibrary library(detail::GemmLibrary::openblas);
            return train_steps(arch, "bn", 2);
        }();
        const detail::ScopedGemmLibrary library(detail::GemmLibrary::blis);
        for (const int threads : {2, 1}) {
            const auto blis = train_steps(arch, "bn", threads);
            CHECK(train_steps(arch, "bn", threads) == blis);
            REQUIRE(blis.size() == portable.size());
            for (size_t p = 0; p < blis.size(); ++p) {
                const auto as_tensor = [](const std::vector<float>& v) {
                    return Tensor::from_vector({static_cast<int64_t>(v.size())}, v);
                };
                check_close(as_tensor(blis[p]), as_tensor(portable[p]), "parameter " + std::to_string(p), 1e-4);
            }
        }
    }
}

TEST_CASE("default threads: the cores no other process keeps busy, at least one", "[parallel][threads]") {
    // procs_running counts the sampling thread itself: 1 runnable task means every core is idle.
    CHECK(idle_cores(2, 1) == 2);
    CHECK(idle_cores(2, 2) == 1);  // one CPU-bound neighbour on a 2-core machine: one thread
    CHECK(idle_cores(2, 7) == 1);  // busier than the cores: still one
    CHECK(idle_cores(16, 4) == 13);
    CHECK(idle_cores(1, 0) == 1);
    CHECK(procs_running("cpu  1 2 3\nintr 5\nprocs_running 3\nprocs_blocked 0\n") == 3);
    CHECK(procs_running("cpu  1 2 3\n") == -1);
    const int threads = default_threads();
    CHECK(threads >= 1);
    CHECK(threads <= static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

TEST_CASE("add_relu is relu(add(a, b)) bit for bit, forward and backward", "[kernels][elementwise]") {
    // Residual blocks run their sum and the ReLU after it as one op. Exact zeros and ties
    // (a + b == 0, -0 gradients) must come out as the two ops make them.
    Generator gen(41);
    for (const Shape& shape : {Shape{3, 5}, Shape{2, 4, 9, 7}, Shape{128, 1024}})
        for (int threads : {1, 2})
            for (bool accumulate : {false, true}) {
                INFO(shape.str() << ", " << threads << " threads" << (accumulate ? ", into existing gradients" : ""));
                const Threads scoped(threads);
                Tensor a = Tensor::randn(shape, gen), b = Tensor::randn(shape, gen);
                for (int64_t i = 0; i < a.numel(); i += 3) b.data()[i] = -a.data()[i];  // sums of exactly 0
                Tensor gy = Tensor::randn(shape, gen);
                for (int64_t i = 0; i < gy.numel(); i += 5) gy.data()[i] = -0.0f;
                const std::vector<Tensor> existing =
                    accumulate ? std::vector<Tensor>{Tensor::randn(shape, gen), Tensor::randn(shape, gen)}
                               : std::vector<Tensor>{};
                const VJP fused = run_vjp([](const auto& in) { return add_relu(in[0], in[1]); }, {a, b}, gy, existing);
                const VJP plain = run_vjp([](const auto& in) { return relu(in[0] + in[1]); }, {a, b}, gy, existing);
                CHECK(same_bits(fused.y, plain.y));
                CHECK(same_bits(fused.grads[0], plain.grads[0]));
                CHECK(same_bits(fused.grads[1], plain.grads[1]));
            }
    const Tensor x = Tensor::randn({4, 6}, gen);  // the same tensor twice: both gradients add up
    const VJP twice = run_vjp([](const auto& in) { return add_relu(in[0], in[0]); }, {x}, Tensor::ones({4, 6}), {});
    const VJP twice_plain = run_vjp([](const auto& in) { return relu(in[0] + in[0]); }, {x}, Tensor::ones({4, 6}), {});
    CHECK(same_bits(twice.grads[0], twice_plain.grads[0]));
    CHECK_THROWS_WITH(add_relu(Tensor::ones({2, 3}), Tensor::ones({3})), Catch::Contains("add_relu") && Catch::Contains("one shape"));
}

TEST_CASE("conv2d's output sums give batch_norm its own statistics bit for bit", "[kernels][batch_norm][conv]") {
    // conv2d sums each image's output while it is in cache (ChannelSums); batch_norm (and the
    // fused variants) then skip their statistics pass. Every algorithm, 1 and 2 threads, batch
    // 1 (image 0 alone: the shifts) and batches split over the threads, strided and 1x1 convs.
    struct Case {
        int64_t N, C, H, W, F;
        int kernel, stride, padding;
    };
    const Case cases[] = {{1, 3, 8, 8, 5, 3, 1, 1},   {3, 4, 9, 7, 6, 3, 1, 1}, {5, 17, 6, 6, 19, 3, 1, 1},
                          {4, 3, 9, 9, 4, 3, 2, 0},   {2, 6, 5, 5, 3, 1, 1, 0}, {6, 2, 12, 12, 8, 5, 1, 2}};
    using detail::ConvAlgorithm;
    Generator gen(37);
    for (const Case& c : cases)
        for (ConvAlgorithm algorithm : {ConvAlgorithm::automatic, ConvAlgorithm::im2col, ConvAlgorithm::winograd,
                                        ConvAlgorithm::direct})
            for (int threads : {1, 2})
                for (int op = 0; op < 3; ++op) {
                    INFO("x (" << c.N << "," << c.C << "," << c.H << "," << c.W << "), " << c.F << " filters "
                               << c.kernel << "x" << c.kernel << " stride " << c.stride << ", algorithm "
                               << static_cast<int>(algorithm) << ", " << threads << " threads, op " << op);
                    const detail::ScopedConvAlgorithm forced(algorithm);
                    const Threads scoped(threads);
                    const Tensor x = Tensor::randn({c.N, c.C, c.H, c.W}, gen);
                    const Tensor w = Tensor::randn({c.F, c.C, c.kernel, c.kernel}, gen);
                    const Tensor bias = Tensor::randn({c.F}, gen, 3.0f);  // |mean| > std: the shift matters
                    const Tensor gamma = Tensor::randn({c.F}, gen, 1.0f, 0.5f), beta = Tensor::randn({c.F}, gen);
                    const auto norm = op == 0 ? batch_norm : op == 1 ? batch_norm_relu : batch_norm_relu_max_pool2d;
                    ChannelSums sums;
                    const Tensor y_summed = conv2d(x, w, bias, c.stride, c.padding, &sums);
                    const Tensor y = conv2d(x, w, bias, c.stride, c.padding);
                    REQUIRE(same_bits(y_summed, y));
                    CHECK(sums.output == y_summed.data());
                    CHECK(sums.sums.size() == static_cast<size_t>(2 * c.N * c.F));
                    const Tensor mean_a = Tensor::zeros({c.F}), var_a = Tensor::ones({c.F});
                    const Tensor mean_b = Tensor::zeros({c.F}), var_b = Tensor::ones({c.F});
                    const Tensor with = norm(y_summed, mean_a, var_a, gamma, beta, true, 0.1, 1e-5, &sums);
                    const Tensor without = norm(y, mean_b, var_b, gamma, beta, true, 0.1, 1e-5, nullptr);
                    CHECK(same_bits(with, without));
                    CHECK(same_bits(mean_a, mean_b));
                    CHECK(same_bits(var_a, var_b));
                    // Sums of another tensor are refused, not silently used.
                    CHECK_THROWS_WITH(norm(y, mean_b, var_b, gamma, beta, true, 0.1, 1e-5, &sums),
                                      Catch::Contains("conv2d output sums") && Catch::Contains("not those of this input"));
                }
}

TEST_CASE("batch_norm_relu (and with max_pool2d) are the ops in sequence bit for bit, forward, backward, statistics",
          "[kernels][batch_norm]") {
    // The fused ops recompute the ReLU's mask (and the pool's winners) from x in backward
    // (core/ops/batch_norm.cpp); the same floats must come out as the ops in sequence. Channel 0
    // of each input is constant: its variance is 0, so without affine every output there is
    // exactly 0 (a tie the mask must resolve as relu's backward does: no gradient), and with
    // affine each pool window there is a tie that max_pool2d gives to its first value.
    // batch_norm_relu_max_pool2d runs on the 4D cases: odd sizes (a row and a column in no
    // window), fewer than 4 windows a row (the scalar loop), 7 (vectors overlapping at the end).
    struct Case {
        Shape shape;
        bool train;
    };
    const Case cases[] = {{{2, 3, 5, 7}, true}, {{1, 5}, false},        {{8, 19}, true},
                          {{3, 17, 9}, true},   {{4, 70, 3, 3}, true},  {{16, 8, 6, 6}, true},
                          {{2, 3, 14, 14}, true}, {{3, 4, 16, 9}, true}, {{1, 2, 2, 2}, true}};
    Generator gen(31);
    for (const Case& c : cases)
        for (bool pool : {false, true}) {
            if (pool && c.shape.size() != 4) continue;
            const int64_t C = c.shape[1], S = c.shape.numel() / (c.shape[0] * C);
            Tensor x = Tensor::randn(c.shape, gen, 0.5f, 2.0f);
            for (int64_t n = 0; n < c.shape[0]; ++n) std::fill_n(x.data() + n * C * S, S, 1.25f);
            const Tensor gamma = Tensor::randn({C}, gen, 1.0f, 0.5f), beta = Tensor::randn({C}, gen);
            const Tensor rmean = Tensor::randn({C}, gen), rvar = Tensor::uniform({C}, gen, 0.5f, 2.0f);
            const Shape out_shape = pool ? Shape{c.shape[0], C, c.shape[2] / 2, c.shape[3] / 2} : c.shape;
            const Tensor gy = Tensor::randn(out_shape, gen), previous = Tensor::randn(c.shape, gen);
            for (int threads : {1, 2})
                for (bool affine : {true, false})
                    for (bool training : {true, false}) {
                        if (training && !c.train) continue;
                        const Threads scoped(threads);
                        const Tensor w = affine ? gamma : Tensor(), b = affine ? beta : Tensor();
                        const Tensor fused_mean = rmean.clone(), fused_var = rvar.clone();
                        const Tensor plain_mean = rmean.clone(), plain_var = rvar.clone();
                        for (bool accumulate : {false, true}) {
                            INFO(c.shape.str() << (pool ? " with pool" : "") << (training ? " train" : " eval")
                                               << (affine ? " affine" : "") << ", " << threads << " threads"
                                               << (accumulate ? ", into existing gradients" : ""));
                            const std::vector<Tensor> existing =
                                accumulate ? std::vector<Tensor>{previous, gamma, beta} : std::vector<Tensor>{};
                            const VJP fused = run_vjp(
                                [&](const auto& in) {
                                    return (pool ? batch_norm_relu_max_pool2d : batch_norm_relu)(
                                        in[0], fused_mean, fused_var, in[1], in[2], training, 0.1, 1e-5, nullptr);
                                },
                                {x, w, b}, gy, existing);
                            const VJP plain = run_vjp(
                                [&](const auto& in) {
                                    const Tensor y =
                                        relu(batch_norm(in[0], plain_mean, plain_var, in[1], in[2], training, 0.1, 1e-5));
                                    return pool ? max_pool2d(y, 2, 2, 0) : y;
                                },
                                {x, w, b}, gy, existing);
                            CHECK(fused.y.shape() == out_shape);
                            CHECK(same_bits(fused.y, plain.y));
                            for (size_t i = 0; i < fused.grads.size(); ++i)
                                if (fused.grads[i].defined()) CHECK(same_bits(fused.grads[i], plain.grads[i]));
                            CHECK(same_bits(fused_mean, plain_mean));
                            CHECK(same_bits(fused_var, plain_var));
                            if (!affine && training) {  // the constant channel: all zeros, no gradient through it
                                CHECK(fused.y.data()[0] == 0.0f);
                                CHECK(fused.grads[0].data()[0] == (accumulate ? previous.data()[0] : 0.0f));
                            }
                        }
                    }
        }
    CHECK_THROWS_WITH(batch_norm_relu_max_pool2d(Tensor::ones({2, 3, 1, 4}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                      Catch::Contains("batch_norm_relu_max_pool2d") && Catch::Contains("H, W >= 2"));
}
