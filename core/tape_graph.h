// The tape as a picture: what one forward pass recorded, as a graph for Graphviz (DOT).
//
//   Tape tape;
//   Tensor loss = cross_entropy(model.forward(x), labels);
//   TapeGraph graph = capture_graph(tape, names);   // before backward, which consumes the tape
//   graph.retain_grads();                            // keep every op's output gradient
//   tape.backward(loss);
//   std::string dot = to_dot(graph, /*grad_norms=*/true);
//
// Nodes: one per tape entry (op name, output shape) and one per leaf, a tensor that entered an
// op without being any entry's output (a parameter, the input batch; shape, and its name when
// `names` has one). Edges run from each input to the op that used it, in the forward direction.
// So nodes = tape.size() + leaves. After backward, each node can show the L2 norm of the
// gradient that flowed through its tensor, d loss / d tensor.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tape.h"

namespace bnlab {

struct TapeGraph {
    struct Node {
        std::string label;  // op name, or the leaf's name ("" for an unnamed leaf)
        bool leaf = false;
        Tensor tensor;      // the entry's output or the leaf (kept for its gradient)
    };
    std::vector<Node> nodes;                        // leaves first appear before the op using them
    std::vector<std::pair<size_t, size_t>> edges;  // (from, to) node indices

    size_t leaf_count() const;
    // retain_grad() on every op output, so the gradients are still there after backward.
    void retain_grads();
};

// The graph of what `tape` holds now. `names` labels leaves (e.g. "0.weight"; the input batch).
TapeGraph capture_graph(const Tape& tape, const std::map<const TensorImpl*, std::string>& names = {});

// Graphviz DOT text: ops as boxes "op\n(N, C, H, W)", leaves as ellipses (parameters shaded);
// with grad_norms, each node also shows "|grad| = ..." (a tensor without a gradient: none).
std::string to_dot(const TapeGraph& graph, bool grad_norms = false, const std::string& title = "tape");

}  // namespace bnlab
