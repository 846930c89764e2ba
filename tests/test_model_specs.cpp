// Model specs (models/spec.h): the grammar, its errors, the named models as specs, residual
// blocks, depth and width, He init, and the spec's trip through a model file.
#include <catch2/catch.hpp>
#include <cmath>

#include "core/error.h"
#include "core/ops.h"
#include "core/tape.h"
#include "layers/layers.h"
#include "models/spec.h"
#include "models/zoo.h"
#include "tests/gradcheck.h"

using namespace bnlab;

namespace {

std::vector<std::string> layer_list(Module& m) {
    std::vector<std::string> out;
    for (const auto& [name, module] : m.named_modules())  // a child's own name ends in '.' ("3.")
        if (!name.empty()) out.push_back(name.substr(0, name.size() - name.ends_with('.')) + " " + module->describe());
    return out;
}

// Same layers, same parameter and buffer values.
void check_same_network(Sequential& a, Sequential& b) {
    CHECK(layer_list(a) == layer_list(b));
    const auto pa = a.named_parameters(), pb = b.named_parameters();
    REQUIRE(pa.size() == pb.size());
    for (size_t i = 0; i < pa.size(); ++i) {
        INFO(pa[i].first);
        CHECK(pa[i].first == pb[i].first);
        CHECK(pa[i].second.to_vector() == pb[i].second.to_vector());
    }
}

template <class T>
int count_of(Module& m) {
    int n = 0;
    for (const auto& [name, module] : m.named_modules()) n += dynamic_cast<T*>(module) != nullptr;
    return n;
}

// The FieldError make_model throws for `config`, as "field: problem".
std::string model_error(const ModelConfig& config, const InputSpec& input = {}) {
    try {
        make_model(config, input, 0);
    } catch (const FieldError& e) {
        CHECK(std::string(e.what()).find("--") == std::string::npos);
        return e.what();
    }
    return "no error";
}

// Each (spec, message): building the spec fails with an error starting with the message.
void check_spec_errors(const std::vector<std::pair<std::string, std::string>>& cases) {
    for (const auto& [spec, message] : cases) {
        INFO(spec);
        CHECK_THAT(model_error({.arch = spec}), Catch::StartsWith(message));
    }
}

}  // namespace

TEST_CASE("spec grammar: every layer parses and formats back", "[models][spec]") {
    const std::string spec =
        "conv32-bn-relu-maxpool2-conv64k5s2p1-ln-sigmoid-avgpool3s2p1-res(conv64-gn8-tanh-conv64-noisybn)-gap-"
        "fc128-gn-act-dropout0.25-norm-dropout-basic16s2-fc";
    CHECK(format_spec(parse_spec(spec)) == spec);
    const auto layers = parse_spec("pool2-conv8k1-conv8p0-fc10");
    CHECK(layers[0].kind == "maxpool");
    CHECK(layers[0].kernel == 2);
    CHECK(layers[1].kernel == 1);
    CHECK(layers[1].padding == -1);  // kernel/2 = 0
    CHECK(layers[2].padding == 0);
    CHECK(layers[3].size == 10);
    CHECK(layers[3].position == 23);
    CHECK(format_spec(layers) == "maxpool2-conv8k1-conv8p0-fc10");
    const auto nested = parse_spec("res(res(relu)-tanh)");
    REQUIRE(nested.size() == 1);
    CHECK(nested[0].body[0].body[0].kind == "relu");
}

TEST_CASE("spec mistakes are FieldErrors of model with their position", "[models][spec]") {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"conv32-bn-relu-cnv64", "model: spec position 16: unknown layer 'cnv64' (known: conv<N>[k<K>][s<S>][p<P>], fc[<N>], norm,"},
        {"conv-relu", "model: spec position 1: conv needs a channel count, e.g. conv32"},
        {"conv32x-relu", "model: spec position 1: 'conv32x': unexpected 'x' (options: k<K>, s<S>, p<P>)"},
        {"conv32k3k5", "model: spec position 1: 'conv32k3k5': 'k' given twice"},
        {"conv0", "model: spec position 1: 'conv0': channels must be an integer in [1, 65536], got '0'"},
        {"conv32--relu", "model: spec position 8: a layer is missing before '-'"},
        {"conv32-", "model: spec position 8: the spec ends with '-' (a layer is missing)"},
        {"res(conv16-bn", "model: spec position 4: '(' is never closed"},
        {"res()", "model: spec position 5: a layer is missing before ')'"},
        {"res(relu)relu", "model: spec position 10: expected '-' after res(...)"},
        {"conv16)-relu", "model: spec position 7: ')' without a matching '('"},
        {"relu(conv2)", "model: spec position 5: only res takes layers in parentheses, not 'relu'"},
        {"res-relu", "model: spec position 1: res needs its layers in parentheses"},
        {"dropout1.5", "model: spec position 1: 'dropout1.5': the dropout probability must be a number in [0, 1)"},
        {"relu2-fc", "model: spec position 1: 'relu2': relu takes no arguments"},
        {"fc10-Relu", "model: spec position 6: unknown layer 'Relu'"},
        {"", "model: spec position 1: empty spec"},
        {"resnet", "model: unknown model 'resnet' (known: mlp, small-cnn, mnist-cnn, cifar-cnn, plain-cnn, resnet20), or a spec of layers"},
    };
    check_spec_errors(cases);
}

TEST_CASE("spec shape mistakes name the layer", "[models][spec]") {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"conv8-relu-fc-conv8", "model: spec position 15 (conv8): needs an image (C,H,W) input, gets 10 features"},
        {"conv8-pool2-pool2-pool2-pool2-pool2-fc", "model: spec position 31 (maxpool2): input 8x1x1 is too small for a 2x2 pool"},
        {"conv8k30p0-fc", "model: spec position 1 (conv8k30p0): input 1x28x28 is too small for a 30x30 kernel"},
        {"fc-gap", "model: spec position 4 (gap): needs an image"},
        {"conv12-gn8-gap-fc", "model: spec position 8 (gn8): 8 groups do not divide the 12 channels"},
        {"conv16-res(conv8)-gap-fc", "model: spec position 8 (res(conv8)): turns 16x28x28 into 8x28x28: the shortcut can only"},
        {"flatten-res(fc8)-fc", "model: spec position 9 (res(fc8)): turns 784 features into 8 features: the identity shortcut"},
        {"conv8-gap-fc5", "model: the spec ends with 5 features, but the data set has 10 classes"},
        {"conv8-relu", "model: the spec ends with 8x28x28, but the data set has 10 classes: end it with fc (one output per class), after gap or flatten"},
        {"maxpool2p2-fc", "model: spec position 1 (maxpool2p2): padding 2 is more than half the kernel 2"},
    };
    check_spec_errors(cases);
    CHECK(model_error({.arch = "cifar-cnn"}, {3, 4, 4, 10}) ==
          "model: model cifar-cnn, layer maxpool2: input 128x1x1 is too small for a 2x2 pool");
    CHECK(model_error({.arch = "conv12-norm-relu-gap-fc", .norm = "gn", .gn_groups = 5}) ==
          "gn_groups: 5 does not divide the 12 channels of layer 1 of the spec");
}

TEST_CASE("named models are specs; their resolved spec builds the same network", "[models][spec]") {
    CHECK(model_spec({.arch = "mnist-cnn"}) == "conv32-norm-act-pool2-conv64-norm-act-pool2-flatten-fc128-norm-act-dropout-fc");
    CHECK(resolved_spec({.arch = "mnist-cnn", .norm = "bn"}) ==
          "conv32-bn-relu-maxpool2-conv64-bn-relu-maxpool2-flatten-fc128-bn-relu-fc");
    CHECK(resolved_spec({.arch = "mlp", .norm = "gn", .norm_after_activation = true, .dropout = 0.5f}) ==
          "flatten-fc100-sigmoid-gn-fc100-sigmoid-gn-fc100-sigmoid-gn-dropout0.5-fc");
    CHECK(resolved_spec({.arch = "resnet20", .norm = "noisy-bn"}).starts_with(
        "conv16-noisybn-relu-res(conv16-noisybn-relu-conv16-noisybn)-relu-"));
    for (const std::string& arch : model_names())
        for (const std::string& norm : norm_names()) {
            INFO(arch << " / " << norm);
            const ModelConfig named{.arch = arch, .norm = norm, .activation = "tanh", .dropout = 0.1f};
            const ModelConfig spec{.arch = resolved_spec(named)};
            auto a = make_model(named, {3, 32, 32, 10}, 4);
            auto b = make_model(spec, {3, 32, 32, 10}, 4);
            check_same_network(*a, *b);
        }
    // The example is mnist-cnn with BatchNorm (fc flattens an image by itself).
    auto example = make_model({.arch = "conv32-bn-relu-pool2-conv64-bn-relu-pool2-fc128-bn-relu-fc10"}, {}, 9);
    auto mnist_cnn = make_model({.arch = "mnist-cnn", .norm = "bn"}, {}, 9);
    check_same_network(*example, *mnist_cnn);
}

TEST_CASE("resnet20 is He et al.'s CIFAR ResNet-20 with option-A shortcuts", "[models][spec][residual]") {
    auto resnet = make_model({.arch = "resnet20", .norm = "bn"}, {3, 32, 32, 10}, 1);
    CHECK(count_of<Conv2d>(*resnet) == 19);
    CHECK(count_of<Linear>(*resnet) == 1);
    CHECK(count_of<Residual>(*resnet) == 9);
    CHECK(count_of<BatchNorm2d>(*resnet) == 19);
    // conv 3->16, 6 convs 16->16, 16->32 + 5 x 32->32, 32->64 + 5 x 64->64 (no biases: BN
    // follows), gamma and beta of 19 BatchNorms, fc 64->10: 0.27M as in the paper.
    CHECK(resnet->parameter_count() == 432 + 6 * 2304 + (4608 + 5 * 9216) + (18432 + 5 * 36864) +
                                           2 * (16 * 7 + 32 * 6 + 64 * 6) + 650);
    CHECK(resnet->parameter_count() == 269722);
    const auto layers = layer_list(*resnet);
    CHECK(std::find(layers.begin(), layers.end(), "9 Residual(shortcut=subsample 2 + zero channels 8+8)") != layers.end());
    CHECK(std::find(layers.begin(), layers.end(), "3 Residual(shortcut=identity)") != layers.end());
    Generator gen(2);
    CHECK(resnet->forward(Tensor::randn({2, 3, 32, 32}, gen)).shape() == Shape{2, 10});
    // plain-cnn at depth 20 is the same network without the shortcuts, from the same weights.
    auto plain = make_model({.arch = "plain-cnn", .norm = "bn"}, {3, 32, 32, 10}, 1);
    CHECK(count_of<Residual>(*plain) == 0);
    const auto pr = resnet->parameters(), pp = plain->parameters();
    REQUIRE(pr.size() == pp.size());
    for (size_t i = 0; i < pr.size(); ++i) CHECK(pr[i].to_vector() == pp[i].to_vector());
}

TEST_CASE("option-A shortcut: subsample and zero channels; pad_channels' gradient", "[models][residual][gradcheck]") {
    Generator gen(3);
    const Tensor x = Tensor::randn({2, 3, 5, 5}, gen);
    Residual block(std::make_shared<Sequential>(), 2, 1, 2);
    const Tensor s = block.shortcut(x);
    REQUIRE(s.shape() == Shape{2, 6, 3, 3});
    for (int64_t n = 0; n < 2; ++n)
        for (int64_t c = 0; c < 6; ++c)
            for (int64_t h = 0; h < 3; ++h)
                for (int64_t w = 0; w < 3; ++w)
                    CHECK(s.at({n, c, h, w}) == (c >= 1 && c < 4 ? x.at({n, c - 1, 2 * h, 2 * w}) : 0.0f));
    using bnlab::testing::param;
    const auto pad = [](const std::vector<Tensor>& in) { return pad_channels(in[0], 2, 1); };
    bnlab::testing::require_ok(bnlab::testing::gradcheck(pad, {param({2, 3, 2, 2}, gen)}));
    bnlab::testing::require_ok(bnlab::testing::gradcheck(pad, {param({3, 4}, gen)}));
    // A whole block: y = body(x) + shortcut(x), gradients through both paths.
    // (tanh, not relu: a finite-difference step must not cross a kink)
    auto body = make_model({.arch = "res(conv4s2-tanh-conv4)-tanh-gap-fc"}, {2, 6, 6, 3}, 5);
    const Tensor image = param({2, 2, 6, 6}, gen);
    bnlab::testing::require_ok(bnlab::testing::gradcheck([&](const std::vector<Tensor>& in) { return body->forward(in[0]); }, {image}));
    CHECK_THROWS_WITH(pad_channels(Tensor::zeros({3}), 1, 1), Catch::Contains("(N,C,...)"));
}

TEST_CASE("depth and width: MLPs and plain CNNs from 2 to 16+ layers build and train a step", "[models][spec][depth]") {
    CHECK(model_spec({.arch = "mlp", .depth = 2, .width = 8}) == "flatten-fc8-norm-act-dropout-fc");
    CHECK(model_spec({.arch = "plain-cnn", .depth = 2, .width = 4}) == "conv4-norm-act-gap-dropout-fc");
    CHECK(model_spec({.arch = "plain-cnn", .depth = 6, .width = 4}) ==
          "conv4-norm-act-conv4-norm-act-conv8s2-norm-act-conv8-norm-act-conv16s2-norm-act-gap-dropout-fc");
    // depth 4 is the default mlp (3 hidden layers)
    check_same_network(*make_model({.arch = "mlp", .depth = 4, .width = 100}, {}, 3), *make_model({.arch = "mlp"}, {}, 3));
    Generator gen(6);
    const Tensor x = Tensor::randn({8, 1, 12, 12}, gen);
    const std::vector<int32_t> labels{0, 1, 2, 3, 0, 1, 2, 3};
    for (const std::string arch : {"mlp", "plain-cnn"})
        for (const std::string norm : {"none", "bn"})
            for (int depth : {2, 16, 20}) {
                INFO(arch << " " << norm << " depth " << depth);
                auto model = make_model({.arch = arch, .norm = norm, .activation = "relu", .depth = depth, .width = 8, .init = "he"},
                                        {1, 12, 12, 4}, 1);
                CHECK(count_of<Conv2d>(*model) + count_of<Linear>(*model) == depth);
                const std::vector<float> before = model->parameters().front().to_vector();
                Tape tape;
                const Tensor loss = cross_entropy(model->forward(x), labels);
                REQUIRE(std::isfinite(loss.item()));
                tape.backward(loss);
                for (Tensor& p : model->parameters()) {
                    const Tensor grad = p.grad();
                    const float* g = grad.data();
                    for (int64_t i = 0; i < p.numel(); ++i) REQUIRE(std::isfinite(g[i]));
                    for (int64_t i = 0; i < p.numel(); ++i) p.data()[i] -= 0.1f * g[i];
                }
                CHECK(model->parameters().front().to_vector() != before);
            }
    CHECK(model_error({.arch = "mnist-cnn", .depth = 8}) == "depth: model mnist-cnn has a fixed depth (depth and width apply to mlp and plain-cnn)");
    CHECK(model_error({.arch = "conv8-gap-fc", .width = 8}) == "width: a spec has a fixed width (depth and width apply to mlp and plain-cnn)");
    CHECK(model_error({.arch = "mlp", .depth = 1}) == "depth: must be in [2, 1000] (0: the model's default), got 1");
    CHECK(model_error({.arch = "plain-cnn", .width = -3}) == "width: must be >= 1 (0: the model's default), got -3");
}

TEST_CASE("init he draws N(0, 2/fan_in) weights and zero biases", "[models][init]") {
    auto mlp = make_model({.arch = "mlp", .init = "he"}, {}, 8);
    auto cnn = make_model({.arch = "small-cnn", .init_scale = 0.5f, .init = "he"}, {}, 8);
    const auto check_std = [](const Tensor& w, double expected) {
        double sum = 0, squares = 0;
        for (float v : w.values()) {
            sum += v;
            squares += double(v) * v;
        }
        const double n = static_cast<double>(w.numel()), mean = sum / n;
        CHECK(std::sqrt(squares / n - mean * mean) == Approx(expected).epsilon(0.05));
    };
    check_std(mlp->named_parameters()[0].second, std::sqrt(2.0 / 784));     // 0.weight... of Linear(784, 100)
    check_std(cnn->named_parameters()[2].second, 0.5 * std::sqrt(2.0 / 144));  // conv 16->32, 3x3: fan-in 144
    for (const auto& [name, p] : mlp->named_parameters())
        if (name.ends_with("bias"))
            for (float b : p.values()) CHECK(b == 0.0f);
}
