// PyTorch parity: replays each case written by tests/fixtures/core_fixtures.py (torch 1.13)
// and compares outputs and gradients. The tests read files; they never run torch.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>

#include "core/ops.h"
#include "core/safetensors.h"
#include "core/tape.h"

using namespace bnlab;
namespace fs = std::filesystem;

namespace {

const fs::path kFixtures = fs::path(BNLAB_SOURCE_DIR) / "tests" / "fixtures" / "core";

// Relative 1e-4 with an absolute floor of 1e-5, as agreed for the op fixtures.
void require_close(const std::string& what, const Tensor& actual, const Tensor& expected) {
    INFO(what << ": shape " << actual.shape().str() << " vs expected " << expected.shape().str());
    REQUIRE(actual.shape() == expected.shape());
    double worst = 0.0;
    int64_t worst_at = -1;
    for (int64_t i = 0; i < actual.numel(); ++i) {
        const double a = actual.data()[i], e = expected.data()[i];
        const double excess = std::fabs(a - e) - (1e-5 + 1e-4 * std::fabs(e));
        if (!(excess <= worst)) {  // also catches NaN
            worst = std::isnan(excess) ? INFINITY : excess;
            worst_at = i;
        }
    }
    INFO("worst element " << worst_at << ": " << (worst_at >= 0 ? actual.data()[worst_at] : 0.0f) << " vs "
                          << (worst_at >= 0 ? expected.data()[worst_at] : 0.0f));
    CHECK(worst_at == -1);
}

double setting(const TensorFile& f, const std::string& key) { return std::stod(f.metadata.at(key)); }

// An input from the fixture, as a leaf that requires grad (or undefined if absent).
Tensor input(const TensorFile& f, const std::string& name) {
    if (!f.contains(name)) return Tensor();
    Tensor t = f.tensor(name).clone();
    t.set_requires_grad();
    return t;
}

// Runs `forward` on the fixture's inputs under a tape, backpropagates grad_y, and compares
// y and grad_<name> for each named input.
void replay(const TensorFile& f, const std::vector<std::string>& names,
            const std::function<Tensor(const std::vector<Tensor>&)>& forward) {
    std::vector<Tensor> inputs;
    for (const auto& n : names) inputs.push_back(input(f, n));
    {
        Tape tape;
        Tensor y = forward(inputs);
        require_close(f.source + " y", y, f.tensor("y"));
        tape.backward(y, f.tensor("grad_y"));
    }
    for (size_t i = 0; i < names.size(); ++i)
        if (inputs[i].defined()) require_close(f.source + " grad_" + names[i], inputs[i].grad(), f.tensor("grad_" + names[i]));
}

// Every fixture whose file name starts with `prefix`, sorted.
std::vector<TensorFile> fixtures(const std::string& prefix) {
    std::vector<std::string> paths;
    for (const auto& e : fs::directory_iterator(kFixtures))
        if (e.path().filename().string().rfind(prefix, 0) == 0) paths.push_back(e.path().string());
    std::sort(paths.begin(), paths.end());
    REQUIRE_FALSE(paths.empty());
    std::vector<TensorFile> files;
    for (const auto& p : paths) files.push_back(read_safetensors(p));
    return files;
}

}  // namespace

TEST_CASE("parity with PyTorch: conv2d", "[parity][conv]") {
    for (const auto& f : fixtures("conv2d_")) {
        const int stride = static_cast<int>(setting(f, "stride")), padding = static_cast<int>(setting(f, "padding"));
        replay(f, {"x", "weight", "bias"}, [&](const auto& in) { return conv2d(in[0], in[1], in[2], stride, padding); });
    }
}

TEST_CASE("parity with PyTorch: linear", "[parity][matmul]") {
    for (const auto& f : fixtures("linear_"))
        replay(f, {"x", "weight", "bias"}, [](const auto& in) { return linear(in[0], in[1], in[2]); });
}

TEST_CASE("parity with PyTorch: batch_norm train and eval, running statistics", "[parity][norm]") {
    for (const auto& f : fixtures("batch_norm_")) {
        const bool training = setting(f, "training") != 0.0;
        Tensor running_mean = f.tensor("running_mean").clone(), running_var = f.tensor("running_var").clone();
        replay(f, {"x", "weight", "bias"}, [&](const auto& in) {
            return batch_norm(in[0], running_mean, running_var, in[1], in[2], training, setting(f, "momentum"),
                              setting(f, "eps"));
        });
        require_close(f.source + " running_mean", running_mean, f.tensor("running_mean_after"));
        require_close(f.source + " running_var", running_var, f.tensor("running_var_after"));
    }
}

TEST_CASE("parity with PyTorch: layer_norm", "[parity][norm]") {
    for (const auto& f : fixtures("layer_norm_")) {
        const int nd = static_cast<int>(setting(f, "normalized_ndim"));
        replay(f, {"x", "weight", "bias"}, [&](const auto& in) { return layer_norm(in[0], nd, in[1], in[2], setting(f, "eps")); });
    }
}

TEST_CASE("parity with PyTorch: group_norm", "[parity][norm]") {
    for (const auto& f : fixtures("group_norm_")) {
        const int groups = static_cast<int>(setting(f, "num_groups"));
        replay(f, {"x", "weight", "bias"},
               [&](const auto& in) { return group_norm(in[0], groups, in[1], in[2], setting(f, "eps")); });
    }
}

TEST_CASE("parity with PyTorch: max_pool2d and avg_pool2d", "[parity][pool]") {
    for (const std::string op : {"max_pool2d", "avg_pool2d"}) {
        for (const auto& f : fixtures(op + "_")) {
            const int k = static_cast<int>(setting(f, "kernel")), s = static_cast<int>(setting(f, "stride")),
                      p = static_cast<int>(setting(f, "padding"));
            replay(f, {"x"}, [&](const auto& in) { return op == "max_pool2d" ? max_pool2d(in[0], k, s, p) : avg_pool2d(in[0], k, s, p); });
        }
    }
}

TEST_CASE("parity with PyTorch: cross_entropy and log_softmax", "[parity][softmax]") {
    for (const auto& f : fixtures("cross_entropy_")) {
        std::vector<int32_t> labels;
        for (float v : f.tensor("labels").values()) labels.push_back(static_cast<int32_t>(v));
        replay(f, {"logits"}, [&](const auto& in) { return cross_entropy(in[0], labels); });
    }
    for (const auto& f : fixtures("log_softmax_")) {
        const int dim = static_cast<int>(setting(f, "dim"));
        replay(f, {"x"}, [&](const auto& in) { return log_softmax(in[0], dim); });
    }
}
