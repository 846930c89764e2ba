// bnlab summary, the --model spec / --depth / --width flags, and the summary at the head of train.log.
#include <catch2/catch.hpp>
#include <algorithm>
#include <fstream>
#include <sstream>

#include "tests/data_test_util.h"
#include "tests/test_util.h"

using namespace bnlab::test;

namespace {
int lines_containing(const std::string& text, const std::string& part) {
    std::istringstream lines(text);
    int n = 0;
    for (std::string line; std::getline(lines, line);) n += line.find(part) != std::string::npos;
    return n;
}
}  // namespace

TEST_CASE("bnlab summary prints layers, parameters and FLOPs for named models and specs", "[cli][summary]") {
    const CommandResult mlp = run_bnlab("summary --model mlp");
    INFO(mlp.output);
    CHECK(mlp.exit_code == 0);
    CHECK_THAT(mlp.output, Catch::Contains("input (1,28,28), output (10): 99710 parameters") &&
                               Catch::Contains("199410 forward FLOPs per sample") &&
                               Catch::Contains("flatten-fc100-sigmoid-fc100-sigmoid-fc100-sigmoid-fc"));
    const CommandResult resnet = run_bnlab("summary --model resnet20 --norm bn --dataset cifar10");
    INFO(resnet.output);
    CHECK(resnet.exit_code == 0);
    CHECK_THAT(resnet.output, Catch::Contains("input (3,32,32), output (10): 269722 parameters"));
    CHECK(lines_containing(resnet.output, "Residual(") == 9);
    const CommandResult spec = run_bnlab("summary --model conv8-norm-relu-pool2-fc --norm gn --gn-groups 2 --norm-position after");
    INFO(spec.output);
    CHECK(spec.exit_code == 0);
    CHECK_THAT(spec.output, Catch::Contains("conv8-relu-gn-maxpool2-fc"));
    CHECK_THAT(spec.output, Catch::Contains("GroupNorm(2, 8)"));
    const CommandResult deep = run_bnlab("summary --model plain-cnn --depth 16 --width 8 --dataset cifar10");
    INFO(deep.output);
    CHECK(deep.exit_code == 0);
    CHECK(lines_containing(deep.output, "Conv2d(") == 15);
    CHECK(lines_containing(deep.output, "Linear(") == 1);
}

TEST_CASE("a bad model spec, depth or width is a usage error naming the flag and the position", "[cli][summary]") {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"summary --model conv32-bn-relu-cnv64", "bnlab summary: --model: spec position 16: unknown layer 'cnv64' (known: conv<N>"},
        {"summary --model resnet", "--model: unknown model 'resnet' (known: mlp, small-cnn, mnist-cnn, cifar-cnn, plain-cnn, resnet20)"},
        {"summary --model mnist-cnn --depth 8", "--depth: model mnist-cnn has a fixed depth"},
        {"summary --model mlp --depth 1", "--depth: must be in [2, 1000]"},
        {"summary --model conv8-pool2-pool2-pool2-pool2-pool2-fc", "--model: spec position 31 (maxpool2): input 8x1x1 is too small"},
        {"train --model conv32-bn-relu-cnv64", "bnlab train: --model: spec position 16: unknown layer 'cnv64'"},
        {"train --model mlp --width -1", "bnlab train: --width: must be >= 1"},
    };
    for (const auto& [args, message] : cases) {
        const CommandResult r = run_bnlab(args);
        INFO(args << "\n" << r.output);
        CHECK(r.exit_code == 2);
        CHECK_THAT(r.output, Catch::Contains(message));
    }
}

TEST_CASE("bnlab train writes the model's summary into train.log, one line per layer", "[cli][summary][train]") {
    TempDir root;
    write_tiny_mnist(root.path());
    const fs::path run = root / "run";
    const CommandResult r = run_bnlab("train --dataset mnist --data-dir '" + root.path().string() +
                                      "' --model mlp --depth 3 --width 16 --norm bn --steps 1 --batch 4 --threads 1 --out '" +
                                      run.string() + "'");
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    std::ifstream file(run / "train.log");
    const std::string log((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    CHECK_THAT(log, Catch::Contains("model flatten-fc16-bn-sigmoid-fc16-bn-sigmoid-fc"));
    CHECK(lines_containing(log, "Linear(") == 3);
    CHECK(lines_containing(log, "BatchNorm1d(16)") == 2);
    CHECK_THAT(log, Catch::Contains("forward FLOPs per sample"));
    const std::string config = [&] {
        std::ifstream c(run / "config.json");
        return std::string((std::istreambuf_iterator<char>(c)), std::istreambuf_iterator<char>());
    }();
    CHECK_THAT(config, Catch::Contains("\"depth\": 3") || Catch::Contains("\"depth\":3"));
}
