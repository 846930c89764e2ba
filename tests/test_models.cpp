// The model zoo: architectures, norm placement, bias dropping, pairing of initial weights.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/ops.h"
#include "core/tape.h"
#include "models/zoo.h"

using namespace bnlab;

namespace {
std::vector<std::string> layer_list(Sequential& m) {
    std::vector<std::string> out;
    for (size_t i = 0; i < m.size(); ++i) out.push_back(m[i].describe());
    return out;
}
}  // namespace

TEST_CASE("mnist-cnn has the documented layers and sizes", "[models]") {
    auto none = make_model({.arch = "mnist-cnn"}, {}, 1);
    CHECK(layer_list(*none) ==
          std::vector<std::string>{"Conv2d(1, 32, kernel_size=3, padding=1)", "ReLU", "MaxPool2d(kernel_size=2, stride=2)",
                                   "Conv2d(32, 64, kernel_size=3, padding=1)", "ReLU", "MaxPool2d(kernel_size=2, stride=2)",
                                   "Flatten", "Linear(3136, 128)", "ReLU", "Linear(128, 10)"});
    CHECK(none->parameter_count() == 320 + 18496 + 401536 + 1290);
    auto bn = make_model({.arch = "mnist-cnn", .norm = "bn"}, {}, 1);
    CHECK(layer_list(*bn) ==
          std::vector<std::string>{"Conv2d(1, 32, kernel_size=3, padding=1, bias=False)", "BatchNorm2d(32)", "ReLU",
                                   "MaxPool2d(kernel_size=2, stride=2)",
                                   "Conv2d(32, 64, kernel_size=3, padding=1, bias=False)", "BatchNorm2d(64)", "ReLU",
                                   "MaxPool2d(kernel_size=2, stride=2)", "Flatten", "Linear(3136, 128, bias=False)",
                                   "BatchNorm1d(128)", "ReLU", "Linear(128, 10)"});
    Generator gen(0);
    CHECK(bn->forward(Tensor::randn({2, 1, 28, 28}, gen)).shape() == Shape{2, 10});
}

TEST_CASE("cifar-cnn and mlp build and run", "[models]") {
    Generator gen(1);
    auto cifar = make_model({.arch = "cifar-cnn", .norm = "gn"}, {3, 32, 32, 10}, 2);
    CHECK(cifar->forward(Tensor::randn({2, 3, 32, 32}, gen)).shape() == Shape{2, 10});
    CHECK(cifar->parameter_count() ==
          (864 + 64) + (9216 + 64) + (18432 + 128) + (36864 + 128) + (73728 + 256) + (2048 * 10 + 10));
    auto mlp = make_model({.arch = "mlp", .norm = "bn"}, {}, 3);
    CHECK(layer_list(*mlp)[1] == "Linear(784, 100, bias=False)");
    CHECK(layer_list(*mlp)[3] == "Sigmoid");
    CHECK(mlp->forward(Tensor::randn({4, 1, 28, 28}, gen)).shape() == Shape{4, 10});
    auto ln = make_model({.arch = "mnist-cnn", .norm = "ln"}, {}, 3);
    CHECK(layer_list(*ln)[1] == "GroupNorm(1, 32)");
    CHECK(layer_list(*ln)[10] == "LayerNorm((128))");
}

TEST_CASE("small-cnn, deeper MLPs and noisy-bn build and run", "[models]") {
    Generator gen(4);
    auto small = make_model({.arch = "small-cnn", .norm = "bn"}, {}, 1);
    CHECK(small->parameter_count() == (144 + 32) + (4608 + 64) + (1568 * 10 + 10));
    CHECK(small->forward(Tensor::randn({2, 1, 28, 28}, gen)).shape() == Shape{2, 10});
    auto deep = make_model({.arch = "mlp", .norm = "bn", .activation = "relu", .mlp_hidden_layers = 7, .mlp_width = 50}, {}, 1);
    CHECK(deep->size() == 1 + 7 * 3 + 1);
    CHECK(deep->forward(Tensor::randn({4, 1, 28, 28}, gen)).shape() == Shape{4, 10});
    auto noisy = make_model({.arch = "mlp", .norm = "noisy-bn"}, {}, 1);
    CHECK(layer_list(*noisy)[3] == "NoisyAffine(100)");
    // Eval: the noise layer is the identity. Training: it moves the output away from plain BN's.
    auto plain = make_model({.arch = "mlp", .norm = "bn"}, {}, 1);
    Tensor x = Tensor::randn({8, 1, 28, 28}, gen);
    noisy->eval();
    plain->eval();
    CHECK(noisy->forward(x).to_vector() == plain->forward(x).to_vector());
    noisy->train();
    plain->train();
    CHECK(noisy->forward(x).to_vector() != plain->forward(x).to_vector());
    CHECK_THROWS_WITH(make_model({.arch = "mlp", .activation = "gelu"}, {}, 0), Catch::Contains("unknown activation 'gelu'"));
}

TEST_CASE("norm after the activation keeps the bias", "[models]") {
    auto after = make_model({.arch = "mnist-cnn", .norm = "bn", .norm_after_activation = true}, {}, 1);
    const auto layers = layer_list(*after);
    CHECK(layers[0] == "Conv2d(1, 32, kernel_size=3, padding=1)");
    CHECK(layers[1] == "ReLU");
    CHECK(layers[2] == "BatchNorm2d(32)");
}

TEST_CASE("arms of a comparison share their initial weights", "[models][pairing]") {
    auto none = make_model({.arch = "mnist-cnn", .norm = "none"}, {}, 42);
    auto bn = make_model({.arch = "mnist-cnn", .norm = "bn"}, {}, 42);
    auto gn = make_model({.arch = "mnist-cnn", .norm = "gn", .norm_after_activation = true}, {}, 42);
    const auto weights = [](Sequential& m) {
        std::vector<std::vector<float>> out;
        for (const auto& [name, p] : m.named_parameters())
            if (name.size() > 7 && name.substr(name.size() - 7) == ".weight" && p.ndim() >= 2) out.push_back(p.to_vector());
        return out;
    };
    const auto wn = weights(*none), wb = weights(*bn), wg = weights(*gn);
    REQUIRE(wn.size() == 4);
    CHECK(wn == wb);
    CHECK(wn == wg);
    auto other_seed = make_model({.arch = "mnist-cnn", .norm = "none"}, {}, 43);
    CHECK(weights(*other_seed) != wn);
}

TEST_CASE("init_scale scales every weight", "[models]") {
    auto base = make_model({.arch = "mlp"}, {}, 5);
    auto scaled = make_model({.arch = "mlp", .init_scale = 0.01f}, {}, 5);
    const auto pb = base->named_parameters(), ps = scaled->named_parameters();
    CHECK(ps[0].second.at({3, 7}) == 0.01f * pb[0].second.at({3, 7}));
}

TEST_CASE("init gaussian reaches every layer of a model, and the norms' layers keep their own init", "[models]") {
    auto model = make_model({.arch = "mlp", .norm = "bn", .mlp_hidden_layers = 7, .mlp_width = 50, .init_scale = 1e-3f,
                             .init = "gaussian"},
                            {}, 5);
    const auto params = model->named_parameters();
    int weights = 0;
    for (const auto& [name, p] : params) {
        if (p.ndim() != 2) continue;  // BatchNorm's gamma/beta keep 1/0
        float most = 0;
        for (float v : p.values()) most = std::max(most, std::fabs(v));
        CHECK(most < 6e-3f);  // Linear weights ~ N(0, 1e-3^2): none beyond 6 sigma
        CHECK(most > 1e-3f);
        ++weights;
    }
    const Tensor& classifier_bias = params.back().second;  // the only bias: the others feed BatchNorm
    CHECK(classifier_bias.numel() == 10);
    for (float b : classifier_bias.values()) CHECK(b == 0.0f);
    CHECK(weights == 8);
    CHECK_THROWS_WITH(make_model({.arch = "mlp", .init = "xavier"}, {}, 0), Catch::Contains("unknown init 'xavier'"));
}

TEST_CASE("bad model settings are clear errors", "[models]") {
    CHECK_THROWS_WITH(make_model({.arch = "resnet"}, {}, 0), Catch::Contains("unknown model 'resnet' (known: mlp, small-cnn, mnist-cnn, cifar-cnn, plain-cnn, resnet20)"));
    CHECK_THROWS_WITH(make_model({.arch = "mlp", .norm = "bm"}, {}, 0), Catch::Contains("unknown norm 'bm'"));
    CHECK_THROWS_WITH(make_model({.arch = "mlp", .norm = "gn", .gn_groups = 8}, {}, 0),
                      Catch::Contains("gn_groups: 8 does not divide the 100 channels"));
    CHECK_THROWS_WITH(make_model({.arch = "cifar-cnn"}, {3, 4, 4, 10}, 0), Catch::Contains("too small"));
}

TEST_CASE("model errors name the config field, never a command-line flag", "[models]") {
    struct Case {
        ModelConfig config;
        std::string field, message;
    };
    const std::vector<Case> cases = {
        {{.arch = "resnet"}, "model",
         "model: unknown model 'resnet' (known: mlp, small-cnn, mnist-cnn, cifar-cnn, plain-cnn, resnet20), or a spec of layers "
         "such as conv32-norm-relu-pool2-fc"},
        {{.arch = "mlp", .norm = "bm"}, "norm", "norm: unknown norm 'bm' (known: none, bn, ln, gn, noisy-bn)"},
        {{.arch = "mlp", .init = "xavier"}, "init", "init: unknown init 'xavier' (known: default, gaussian, he)"},
        {{.arch = "mlp", .activation = "gelu"}, "activation", "activation: unknown activation 'gelu' (known: relu, sigmoid, tanh)"},
        {{.arch = "mlp", .norm = "gn", .gn_groups = 8}, "gn_groups", "gn_groups: 8 does not divide the 100 channels of layer 1 of mlp"},
        {{.arch = "mlp", .mlp_hidden_layers = 0}, "mlp_hidden_layers", "mlp_hidden_layers: must be in [1, 999], got 0"},
        {{.arch = "mlp", .mlp_width = 0}, "mlp_width", "mlp_width: must be in [1, 65536], got 0"},
    };
    for (const Case& c : cases) {
        INFO(c.message);
        try {
            make_model(c.config, {}, 0);
            FAIL("no error");
        } catch (const FieldError& e) {
            CHECK(e.field() == c.field);
            CHECK(std::string(e.what()) == c.message);
            CHECK(std::string(e.what()).find("--") == std::string::npos);
        }
    }
}

TEST_CASE("every listed model builds and runs with every listed norm, init and activation", "[models]") {
    Generator gen(5);
    const Tensor x = Tensor::randn({2, 3, 32, 32}, gen);
    for (const std::string& arch : model_names())
        for (const std::string& norm : norm_names()) {
            INFO(arch << " / " << norm);
            auto model = make_model({.arch = arch, .norm = norm}, {3, 32, 32, 10}, 1);
            CHECK(model->forward(x).shape() == Shape{2, 10});
        }
    for (const std::string& init : init_names())
        CHECK(make_model({.arch = "small-cnn", .init = init}, {}, 1)->parameter_count() > 0);
    for (const std::string& activation : activation_names())
        CHECK(make_model({.arch = "mlp", .activation = activation}, {}, 1)->size() == 1 + 3 * 2 + 1);
}

TEST_CASE("BatchNorm + ReLU (+ MaxPool2d(2)) run fused and give the unfused model's bits", "[models][norm]") {
    // Every Sequential, residual bodies included, runs a BatchNorm followed by a ReLU as one
    // op (batch_norm_relu), and with a 2x2 max pool after them as one op
    // (batch_norm_relu_max_pool2d). Two models from the same seed, one with fusion off, must
    // agree bit for bit: outputs, every parameter gradient and the running statistics, over two
    // training steps' worth of forward and backward, then in eval mode.
    struct Case {
        ModelConfig config;
        InputSpec input;
        size_t fused_ops;   // BatchNorm + ReLU pairs in the model
        size_t with_pool;   // of which followed by a MaxPool2d(2)
        size_t residual_relus = 0;  // Residual + ReLU pairs (add_relu)
    };
    ModelConfig ghost{.arch = "mnist-cnn", .norm = "bn"};
    ghost.batch_norm.ghost_batch_size = 2;  // training: BN over ghost batches, then a separate relu()
    const Case cases[] = {{{.arch = "mnist-cnn", .norm = "bn"}, {1, 28, 28, 10}, 3, 2},
                          {{.arch = "cifar-cnn", .norm = "bn"}, {3, 32, 32, 10}, 5, 3},
                          {ghost, {1, 28, 28, 10}, 0, 0},
                          {{.arch = "resnet20", .norm = "bn"}, {3, 32, 32, 10}, 10, 0, 9}};  // stem + 9 blocks, whose sums
                                                                                                     // and ReLUs run as add_relu
    for (const Case& c : cases) {
        INFO(c.config.arch);
        auto fused = make_model(c.config, c.input, 7), plain = make_model(c.config, c.input, 7);
        plain->set_fuse_bn_relu(false);
        Generator gen(8);
        for (int step = 0; step < 2; ++step) {
            const Tensor x = Tensor::randn({4, c.input.channels, c.input.height, c.input.width}, gen);
            std::vector<std::string> fused_names, plain_names;
            for (auto* model : {fused.get(), plain.get()}) {
                model->zero_grad();
                Tape tape;
                const Tensor y = model->forward(x);
                for (const char* op : tape.op_names()) (model == fused.get() ? fused_names : plain_names).push_back(op);
                tape.backward(sum(y * y));
            }
            const auto count = [](const std::vector<std::string>& names, const char* op) {
                return static_cast<size_t>(std::count(names.begin(), names.end(), op));
            };
            CHECK(count(fused_names, "batch_norm_relu") == c.fused_ops - c.with_pool);
            CHECK(count(fused_names, "batch_norm_relu_max_pool2d") == c.with_pool);
            CHECK(count(plain_names, "batch_norm_relu") + count(plain_names, "batch_norm_relu_max_pool2d") == 0);
            CHECK(count(fused_names, "add_relu") == c.residual_relus);
            CHECK(count(plain_names, "add_relu") == 0);
            CHECK(fused_names.size() + c.fused_ops + c.with_pool + c.residual_relus == plain_names.size());
            const auto fp = fused->named_parameters(), pp = plain->named_parameters();
            for (size_t i = 0; i < fp.size(); ++i) {
                INFO(fp[i].first);
                CHECK(fp[i].second.grad().to_vector() == pp[i].second.grad().to_vector());
            }
            const auto fb = fused->named_buffers(), pb = plain->named_buffers();
            for (size_t i = 0; i < fb.size(); ++i) CHECK(fb[i].second.to_vector() == pb[i].second.to_vector());
        }
        fused->eval();
        plain->eval();
        const Tensor x = Tensor::randn({3, c.input.channels, c.input.height, c.input.width}, gen);
        CHECK(fused->forward(x).to_vector() == plain->forward(x).to_vector());
    }
}
