// The built-in models are named specs (models/spec.h). They must build exactly the networks the
// hand-written builder built before them: same layers, same initial weights bit for bit, same
// dropout and noise generators. The fingerprints below were recorded from that builder (commit
// 9877ed1's models/zoo.cpp) and must never change unless a model is meant to change.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <map>

#include "core/random.h"
#include "models/zoo.h"

using namespace bnlab;

namespace {

// FNV-1a over bytes.
struct Fingerprint {
    uint64_t hash = 0xcbf29ce484222325ull;
    void add(const void* data, size_t size) {
        const auto* bytes = static_cast<const unsigned char*>(data);
        for (size_t i = 0; i < size; ++i) hash = (hash ^ bytes[i]) * 0x100000001b3ull;
    }
    void add(const std::string& text) { add(text.data(), text.size()); }
    void add(const Tensor& t) { add(t.values().data(), t.values().size_bytes()); }
};

// Every module's name and description, every parameter and buffer as initialized, and the
// state of every generator (dropout masks, noisy-BN draws). Forward outputs are left out: their
// last bits depend on the thread count and the CPU's kernels.
uint64_t fingerprint(const ModelConfig& config, const InputSpec& input, uint64_t seed) {
    auto model = make_model(config, input, seed);
    Fingerprint f;
    for (const auto& [name, module] : model->named_modules()) f.add(name + ":" + module->describe() + ";");
    for (const auto& [name, t] : model->named_parameters()) {
        f.add(name);
        f.add(t);
    }
    for (const auto& [name, t] : model->named_buffers()) f.add(t);
    for (const auto& [name, gen] : model->named_generators()) {
        const Generator::State s = gen->state();
        f.add(name + fmt::format(":{},{},{};", s.seed, s.state, s.increment));
    }
    return f.hash;
}

struct ReferenceCase {
    std::string what;
    ModelConfig config;
    InputSpec input;
    uint64_t seed;
};

std::vector<ReferenceCase> reference_cases() {
    std::vector<ReferenceCase> cases;
    const std::vector<std::string> archs{"mlp", "small-cnn", "mnist-cnn", "cifar-cnn"};
    const std::vector<std::string> norms{"none", "bn", "ln", "gn", "noisy-bn"};
    for (const std::string& arch : archs)
        for (const std::string& norm : norms)
            for (bool after : {false, true}) {
                const InputSpec input = arch == "cifar-cnn" ? InputSpec{3, 32, 32, 10} : InputSpec{1, 28, 28, 10};
                cases.push_back({fmt::format("{} {} {}", arch, norm, after ? "after" : "before"),
                                 {.arch = arch, .norm = norm, .norm_after_activation = after}, input, 1});
            }
    cases.push_back({"mlp relu 7x50 gaussian", {.arch = "mlp", .norm = "bn", .activation = "relu", .mlp_hidden_layers = 7,
                                                .mlp_width = 50, .init_scale = 0.5f, .init = "gaussian"}, {1, 28, 28, 10}, 5});
    cases.push_back({"mlp noisy-bn dropout", {.arch = "mlp", .norm = "noisy-bn", .mlp_width = 16, .dropout = 0.3f}, {1, 8, 8, 4}, 3});
    cases.push_back({"small-cnn tanh dropout", {.arch = "small-cnn", .norm = "gn", .activation = "tanh", .gn_groups = 2,
                                                .dropout = 0.5f}, {1, 28, 28, 10}, 11});
    cases.push_back({"mnist-cnn on cifar, 100 classes", {.arch = "mnist-cnn", .norm = "bn", .init_scale = 2.0f}, {3, 32, 32, 100}, 42});
    cases.push_back({"cifar-cnn sigmoid momentum", {.arch = "cifar-cnn", .norm = "bn", .activation = "sigmoid",
                                                    .batch_norm = {.eps = 1e-3, .momentum = std::nullopt}}, {3, 32, 32, 10}, 7});
    return cases;
}

}  // namespace

TEST_CASE("the built-in models build the same networks as the hand-written builder did", "[models][spec]") {
    const std::map<std::string, uint64_t> recorded = {
        {"cifar-cnn bn after", 0x0709e103b899a6e8ull},
        {"cifar-cnn bn before", 0xdf06da31164bdc99ull},
        {"cifar-cnn gn after", 0xa4e1fab63ca62db9ull},
        {"cifar-cnn gn before", 0x2b10f4041b7d1f0cull},
        {"cifar-cnn ln after", 0x52411f2511616576ull},
        {"cifar-cnn ln before", 0x76748e5a91241c3bull},
        {"cifar-cnn noisy-bn after", 0xbb4d3f68e2f9df0eull},
        {"cifar-cnn noisy-bn before", 0xce32274aeb12775eull},
        {"cifar-cnn none after", 0x1f6ca50b00c4fe22ull},
        {"cifar-cnn none before", 0x1f6ca50b00c4fe22ull},
        {"cifar-cnn sigmoid momentum", 0xa29cc81bb624b6b6ull},
        {"mlp bn after", 0xa9f7a95f101fc0cdull},
        {"mlp bn before", 0x0ebf84ec33e61e5eull},
        {"mlp gn after", 0x8b25556ba653dd35ull},
        {"mlp gn before", 0x4a98f038fe6027ecull},
        {"mlp ln after", 0x3da7d23ba9198032ull},
        {"mlp ln before", 0x50bc01b279453da7ull},
        {"mlp noisy-bn after", 0x890440e1e650aceeull},
        {"mlp noisy-bn before", 0x328b6b12b7f7c7bfull},
        {"mlp noisy-bn dropout", 0xd8ed3c29ce7f7eaaull},
        {"mlp none after", 0xc386932f4cd2b7c6ull},
        {"mlp none before", 0xc386932f4cd2b7c6ull},
        {"mlp relu 7x50 gaussian", 0x44e11d2c56ee7218ull},
        {"mnist-cnn bn after", 0x289e21f01f1fcb94ull},
        {"mnist-cnn bn before", 0x37f39261d6f1612full},
        {"mnist-cnn gn after", 0xe1efbb2c6478e5a6ull},
        {"mnist-cnn gn before", 0x2cd75b493647d443ull},
        {"mnist-cnn ln after", 0xbf261103596f619full},
        {"mnist-cnn ln before", 0xda574ea7b088ed48ull},
        {"mnist-cnn noisy-bn after", 0xfb68e7c60baa0ff7ull},
        {"mnist-cnn noisy-bn before", 0x64a20f0ca61bdd73ull},
        {"mnist-cnn none after", 0x023f0774c2bdffe8ull},
        {"mnist-cnn none before", 0x023f0774c2bdffe8ull},
        {"mnist-cnn on cifar, 100 classes", 0x374b9e9ee1398ca0ull},
        {"small-cnn bn after", 0x11cca344885e731aull},
        {"small-cnn bn before", 0x69484905939efb07ull},
        {"small-cnn gn after", 0x172ae0d0fd6d2f72ull},
        {"small-cnn gn before", 0x5db47d1ec1360055ull},
        {"small-cnn ln after", 0x83bf7911b542ddb6ull},
        {"small-cnn ln before", 0x61f4ddf1f505a8d9ull},
        {"small-cnn noisy-bn after", 0x9c19918fba37224full},
        {"small-cnn noisy-bn before", 0x360a056c3683d9c7ull},
        {"small-cnn none after", 0xa4a07e544767dd13ull},
        {"small-cnn none before", 0xa4a07e544767dd13ull},
        {"small-cnn tanh dropout", 0x7a7cbb972695507bull},
    };
    for (const ReferenceCase& c : reference_cases()) {
        const uint64_t actual = fingerprint(c.config, c.input, c.seed);
        INFO(fmt::format("{{\"{}\", 0x{:016x}ull}},", c.what, actual));
        const auto found = recorded.find(c.what);
        CHECK(found != recorded.end());
        if (found != recorded.end()) CHECK(found->second == actual);
    }
}
