// The tape drawn as a graph (core/tape_graph.h), in the library and through `bnlab graph`.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <regex>

#include "core/ops.h"
#include "core/random.h"
#include "core/tape.h"
#include "core/tape_graph.h"
#include "models/zoo.h"
#include "tests/test_util.h"

using namespace bnlab;
using namespace bnlab::test;

namespace {

// The node statements of DOT text: lines "  n<k> [label=...".
size_t dot_node_count(const std::string& dot) {
    const std::regex node(R"(^  n\d+ \[label=)", std::regex::multiline);
    return static_cast<size_t>(std::distance(std::sregex_iterator(dot.begin(), dot.end(), node), std::sregex_iterator()));
}

struct Recorded {
    size_t tape_entries = 0, parameters = 0;
    TapeGraph graph;
};

// One forward pass of mlp/bn on a (4, 1, 28, 28) batch, captured before backward.
Recorded record_mlp(bool run_backward) {
    const auto model = make_model({.arch = "mlp", .norm = "bn"}, InputSpec{}, 0);
    Generator gen(7);
    const Tensor images = Tensor::randn({4, 1, 28, 28}, gen);
    std::map<const TensorImpl*, std::string> names;
    for (const auto& [name, p] : model->named_parameters()) names[p.impl()] = name;
    Recorded r;
    Tape tape;
    const std::vector<int32_t> labels{0, 1, 2, 3};
    const Tensor loss = cross_entropy(model->forward(images), labels);
    r.tape_entries = tape.size();
    r.parameters = names.size();
    r.graph = capture_graph(tape, names);
    r.graph.retain_grads();
    if (run_backward) tape.backward(loss);
    return r;
}

}  // namespace

TEST_CASE("the graph of a tape: one node per entry and per leaf, one edge per input", "[tape][graph]") {
    const Recorded r = record_mlp(false);
    // Leaves: every parameter (each is used) and the input batch.
    CHECK(r.graph.leaf_count() == r.parameters + 1);
    CHECK(r.graph.nodes.size() == r.tape_entries + r.graph.leaf_count());
    const std::string dot = to_dot(r.graph);
    CHECK(dot_node_count(dot) == r.graph.nodes.size());
    CHECK_THAT(dot, Catch::Contains("[label=\"1.weight\\n(100, 784)\"") && Catch::Contains("[label=\"input\\n(4, 784)\"") &&
                        Catch::Contains("[label=\"cross_entropy\\n()\"") && Catch::Contains("[label=\"batch_norm\\n(4, 100)\""));
    // Every op has an edge in; the first linear takes the input, 1.weight (no bias: BN follows).
    size_t edges_into_first_op = 0;
    for (const auto& [from, to] : r.graph.edges) {
        CHECK(from < to);
        edges_into_first_op += to == 2;
    }
    CHECK(r.graph.nodes[2].label == "linear");
    CHECK(edges_into_first_op == 2);
}

TEST_CASE("the graph shows the gradient norm that flowed through each node", "[tape][graph]") {
    const Recorded r = record_mlp(true);
    const std::string dot = to_dot(r.graph, true);
    // d loss / d loss = 1; the input does not require grad; a weight's norm is its grad's.
    CHECK_THAT(dot, Catch::Contains("cross_entropy\\n()\\n|grad| = 1\"") && Catch::Contains("(4, 784)\\n|grad| none"));
    const TapeGraph::Node& weight = r.graph.nodes[1];
    REQUIRE(weight.label == "1.weight");
    double sum = 0;
    for (float g : weight.tensor.grad().values()) sum += static_cast<double>(g) * g;
    CHECK_THAT(dot, Catch::Contains(fmt::format("1.weight\\n(100, 784)\\n|grad| = {:.3g}\"", std::sqrt(sum))));
}

TEST_CASE("bnlab graph writes the tape of mlp and mnist-cnn as DOT, and SVG through Graphviz", "[cli][graph]") {
    TempDir dir;
    const std::string binary = BNLAB_BINARY;
    const CommandResult mlp = run_shell(binary + " graph --model mlp --norm bn --batch-size 4 --grad-norms --out '" +
                                        (dir / "mlp.dot").string() + "'");
    INFO(mlp.output);
    REQUIRE(mlp.exit_code == 0);
    const std::vector<uint8_t> bytes = read_bytes(dir / "mlp.dot");
    const std::string dot(bytes.begin(), bytes.end());
    const Recorded r = record_mlp(false);
    CHECK(dot_node_count(dot) == r.tape_entries + r.parameters + 1);
    CHECK_THAT(dot, Catch::Contains("|grad| = "));

    if (run_shell("command -v dot").exit_code != 0) return;  // Graphviz not installed: DOT only
    const CommandResult cnn = run_shell(binary + " graph --model mnist-cnn --norm bn --out '" + (dir / "cnn.svg").string() + "'");
    INFO(cnn.output);
    CHECK(cnn.exit_code == 0);
    const std::vector<uint8_t> svg = read_bytes(dir / "cnn.svg");
    CHECK_THAT(std::string(svg.begin(), svg.end()), Catch::Contains("<svg") && Catch::Contains("conv2d"));
    CHECK(run_shell(binary + " graph --out '" + (dir / "x.txt").string() + "'").exit_code == 2);
}
