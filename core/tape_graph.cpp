#include "core/tape_graph.h"

#include <fmt/format.h>

#include <cmath>
#include <unordered_map>

namespace bnlab {

size_t TapeGraph::leaf_count() const {
    size_t n = 0;
    for (const Node& node : nodes) n += node.leaf;
    return n;
}

void TapeGraph::retain_grads() {
    for (Node& node : nodes)
        if (!node.leaf) node.tensor.retain_grad();
}

TapeGraph capture_graph(const Tape& tape, const std::map<const TensorImpl*, std::string>& names) {
    TapeGraph graph;
    std::unordered_map<const TensorImpl*, size_t> node_of;  // tensor -> the node that made it (or is it)
    for (const Tape::EntryInfo& entry : tape.entries()) {
        std::vector<size_t> sources;
        for (const Tensor& input : entry.inputs) {
            if (!input.defined()) continue;  // an absent bias
            auto found = node_of.find(input.impl());
            if (found == node_of.end()) {
                const auto name = names.find(input.impl());
                graph.nodes.push_back({name == names.end() ? "" : name->second, true, input});
                found = node_of.emplace(input.impl(), graph.nodes.size() - 1).first;
            }
            sources.push_back(found->second);
        }
        graph.nodes.push_back({entry.op, false, entry.output});
        const size_t op = graph.nodes.size() - 1;
        node_of[entry.output.impl()] = op;
        for (size_t source : sources) graph.edges.emplace_back(source, op);
    }
    return graph;
}

namespace {

// "(8, 784)"
std::string shape_text(const Shape& shape) {
    std::string text = "(";
    for (int i = 0; i < shape.size(); ++i) text += fmt::format("{}{}", i ? ", " : "", shape.dim(i));
    return text + ")";
}

// The L2 norm of the tensor's gradient, sqrt(sum g^2); NaN when it has none.
double grad_norm(const Tensor& t) {
    const Tensor g = t.grad();
    if (!g.defined()) return NAN;
    double sum = 0;
    for (float v : g.values()) sum += static_cast<double>(v) * v;
    return std::sqrt(sum);
}

std::string escaped(const std::string& text) {
    std::string out;
    for (char c : text) out += c == '"' || c == '\\' ? std::string("\\") + c : std::string(1, c);
    return out;
}

}  // namespace

std::string to_dot(const TapeGraph& graph, bool grad_norms, const std::string& title) {
    std::string dot = fmt::format("digraph \"{}\" {{\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n",
                                  escaped(title));
    for (size_t i = 0; i < graph.nodes.size(); ++i) {
        const TapeGraph::Node& node = graph.nodes[i];
        // DOT labels: \n is a line break, quotes and backslashes in names are escaped.
        std::string label = node.label.empty() ? (node.tensor.requires_grad() ? "parameter" : "input") : escaped(node.label);
        label += "\\n" + shape_text(node.tensor.shape());
        if (grad_norms) {
            const double norm = grad_norm(node.tensor);
            label += std::isnan(norm) ? "\\n|grad| none" : fmt::format("\\n|grad| = {:.3g}", norm);
        }
        const char* style = !node.leaf                      ? "shape=box, style=rounded"
                            : node.tensor.requires_grad() ? "shape=ellipse, style=filled, fillcolor=\"#dde8f4\""
                                                            : "shape=ellipse";
        dot += fmt::format("  n{} [label=\"{}\", {}];\n", i, label, style);
    }
    for (const auto& [from, to] : graph.edges) dot += fmt::format("  n{} -> n{};\n", from, to);
    return dot + "}\n";
}

}  // namespace bnlab
