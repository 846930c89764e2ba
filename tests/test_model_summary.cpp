// models/summary.h: parameter and FLOP counts checked against counts made by hand.
#include <catch2/catch.hpp>
#include <algorithm>

#include "models/summary.h"
#include "models/zoo.h"

using namespace bnlab;

namespace {

struct Expected {
    std::string layer;
    Shape output;
    int64_t parameters, flops;
};

void check_rows(const ModelSummary& s, const std::vector<Expected>& expected) {
    REQUIRE(s.layers.size() == expected.size());
    int64_t parameters = 0, flops = 0;
    for (size_t i = 0; i < expected.size(); ++i) {
        INFO(i << " " << s.layers[i].layer);
        CHECK(s.layers[i].layer == expected[i].layer);
        CHECK(s.layers[i].output == expected[i].output);
        CHECK(s.layers[i].parameters == expected[i].parameters);
        CHECK(s.layers[i].flops == expected[i].flops);
        parameters += expected[i].parameters;
        flops += expected[i].flops;
    }
    CHECK(s.parameters == parameters);
    CHECK(s.flops == flops);
}

}  // namespace

TEST_CASE("summary of the mlp: parameters and FLOPs by hand", "[models][summary]") {
    auto none = make_model({.arch = "mlp"}, {}, 0);
    const ModelSummary s = summarize(*none, {1, 28, 28});
    // Linear in->out: in*out weights + out biases; 2*in*out FLOPs + out for the bias. Sigmoid: 1 per element.
    check_rows(s, {{"Flatten", {784}, 0, 0},
                   {"Linear(784, 100)", {100}, 78500, 2 * 784 * 100 + 100},
                   {"Sigmoid", {100}, 0, 100},
                   {"Linear(100, 100)", {100}, 10100, 2 * 100 * 100 + 100},
                   {"Sigmoid", {100}, 0, 100},
                   {"Linear(100, 100)", {100}, 10100, 20100},
                   {"Sigmoid", {100}, 0, 100},
                   {"Linear(100, 10)", {10}, 1010, 2 * 100 * 10 + 10}});
    CHECK(s.parameters == 99710);
    CHECK(s.flops == 199410);
    CHECK(s.output == Shape{10});

    auto bn = make_model({.arch = "mlp", .norm = "bn"}, {}, 0);
    const ModelSummary b = summarize(*bn, {1, 28, 28});
    // No biases before BatchNorm; BatchNorm1d(100): gamma, beta; 4 FLOPs per element.
    CHECK(b.layers[1].flops == 2 * 784 * 100);
    CHECK(b.layers[2].layer == "BatchNorm1d(100)");
    CHECK(b.layers[2].parameters == 200);
    CHECK(b.layers[2].flops == 400);
    CHECK(b.parameters == 78400 + 3 * 200 + 2 * 10000 + 1010);
    CHECK(b.flops == 3 * (400 + 100) + 2 * 784 * 100 + 2 * 2 * 100 * 100 + 2010);
}

TEST_CASE("summary of mnist-cnn: parameters and FLOPs by hand", "[models][summary]") {
    auto none = make_model({.arch = "mnist-cnn"}, {}, 0);
    const ModelSummary s = summarize(*none, {1, 28, 28});
    // Conv2d C->F 3x3 padding 1: F*C*9 + F parameters; per output element 2*C*9 + 1 FLOPs.
    // MaxPool2d(2): 4 per output element.
    check_rows(s, {{"Conv2d(1, 32, kernel_size=3, padding=1)", {32, 28, 28}, 320, 32 * 28 * 28 * (2 * 9 + 1)},
                   {"ReLU", {32, 28, 28}, 0, 32 * 28 * 28},
                   {"MaxPool2d(kernel_size=2, stride=2)", {32, 14, 14}, 0, 32 * 14 * 14 * 4},
                   {"Conv2d(32, 64, kernel_size=3, padding=1)", {64, 14, 14}, 18496, 64 * 14 * 14 * (2 * 32 * 9 + 1)},
                   {"ReLU", {64, 14, 14}, 0, 64 * 14 * 14},
                   {"MaxPool2d(kernel_size=2, stride=2)", {64, 7, 7}, 0, 64 * 7 * 7 * 4},
                   {"Flatten", {3136}, 0, 0},
                   {"Linear(3136, 128)", {128}, 401536, 128 * (2 * 3136 + 1)},
                   {"ReLU", {128}, 0, 128},
                   {"Linear(128, 10)", {10}, 1290, 10 * (2 * 128 + 1)}});
    CHECK(s.parameters == 421642);
    CHECK(s.flops == 476672 + 25088 + 25088 + 7237888 + 12544 + 12544 + 802944 + 128 + 2570);

    auto gn = make_model({.arch = "mnist-cnn", .norm = "gn"}, {}, 0);
    const ModelSummary g = summarize(*gn, {1, 28, 28});
    // GroupNorm(4, 32) on 32x28x28: 7 FLOPs per element (statistics 3, normalize 2, affine 2).
    CHECK(g.layers[1].layer == "GroupNorm(4, 32)");
    CHECK(g.layers[1].flops == 7 * 32 * 28 * 28);
    CHECK(g.layers[0].flops == 32 * 28 * 28 * 18);  // no bias before a norm
}

TEST_CASE("summary of resnet20 descends into residual blocks", "[models][summary][residual]") {
    auto resnet = make_model({.arch = "resnet20", .norm = "bn"}, {3, 32, 32, 10}, 0);
    const ModelSummary s = summarize(*resnet, {3, 32, 32});
    CHECK(s.parameters == 269722);
    int blocks = 0, sums = 0;
    for (const LayerSummary& row : s.layers) {
        blocks += row.layer.starts_with("Residual");
        if (row.layer == "  + shortcut") {
            ++sums;
            CHECK(row.flops == row.output.numel());
        }
    }
    CHECK(blocks == 9);
    CHECK(sums == 9);
    CHECK(s.layers[3].name == "3");
    CHECK(s.layers[4].name == "3.body.0");
    CHECK(s.layers[4].layer == "  Conv2d(16, 16, kernel_size=3, padding=1, bias=False)");
    // The 3x3 convs dominate: ResNet-20 is commonly quoted at about 41M multiply-adds per 32x32
    // image, 81M FLOPs counted as 2 each; the norms, ReLUs and sums add about 2%.
    CHECK(s.flops > 80'000'000);
    CHECK(s.flops < 84'000'000);
    const std::string table = format_summary(s);
    CHECK_THAT(table, Catch::Contains("269722 parameters (269.7k)") && Catch::Contains("a multiply-add counts 2"));
    CHECK(std::count(table.begin(), table.end(), '\n') == static_cast<long>(s.layers.size()) + 2);
}
