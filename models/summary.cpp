#include "models/summary.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/ops.h"
#include "core/tape.h"
#include "layers/affine.h"
#include "layers/norm.h"
#include "layers/residual.h"
#include "layers/simple.h"

namespace bnlab {

namespace {

// y's shape without the batch dimension.
Shape sample_shape_of(const Tensor& y) {
    Shape s;
    for (int i = 1; i < y.ndim(); ++i) s.push_back(y.dim(i));
    return s;
}

// Forward FLOPs of leaf layer `m` turning x into y (batch 1); the rules in summary.h.
int64_t leaf_flops(const Module& m, const Tensor& x, const Tensor& y) {
    if (const auto* fc = dynamic_cast<const Linear*>(&m))
        return y.numel() * (2 * fc->weight.dim(1) + (fc->bias.defined() ? 1 : 0));
    if (const auto* conv = dynamic_cast<const Conv2d*>(&m)) {
        const Tensor& w = conv->weight;  // (F, C, k, k)
        return y.numel() * (2 * w.dim(1) * w.dim(2) * w.dim(3) + (conv->bias.defined() ? 1 : 0));
    }
    if (const auto* bn = dynamic_cast<const BatchNorm*>(&m)) return x.numel() * (bn->weight.defined() ? 4 : 2);
    if (const auto* ln = dynamic_cast<const LayerNorm*>(&m)) return x.numel() * (ln->weight.defined() ? 7 : 5);
    if (const auto* gn = dynamic_cast<const GroupNorm*>(&m)) return x.numel() * (gn->weight.defined() ? 7 : 5);
    if (dynamic_cast<const ReLU*>(&m) || dynamic_cast<const Sigmoid*>(&m) || dynamic_cast<const Tanh*>(&m)) return y.numel();
    if (const auto* pool = dynamic_cast<const MaxPool2d*>(&m)) return y.numel() * pool->kernel_size() * pool->kernel_size();
    if (const auto* pool = dynamic_cast<const AvgPool2d*>(&m)) return y.numel() * pool->kernel_size() * pool->kernel_size();
    if (dynamic_cast<const GlobalAvgPool*>(&m)) return x.numel();
    return 0;
}

// Runs x through m, descending into Sequential and Residual to list their leaves in `rows`.
Tensor walk(Module& m, const std::string& name, const Tensor& x, int depth, std::vector<LayerSummary>& rows) {
    const auto child = [&](const std::string& sub) { return name.empty() ? sub : name + "." + sub; };
    const std::string indent(static_cast<size_t>(std::max(depth - 1, 0)) * 2, ' ');
    if (auto* seq = dynamic_cast<Sequential*>(&m)) {
        Tensor h = x;
        for (size_t i = 0; i < seq->size(); ++i) h = walk((*seq)[i], child(std::to_string(i)), h, depth + 1, rows);
        return h;
    }
    if (auto* res = dynamic_cast<Residual*>(&m)) {
        rows.push_back({name, indent + res->describe(), {}, 0, 0});
        const size_t header = rows.size() - 1;
        const Tensor y = walk(res->body(), child("body"), x, depth, rows) + res->shortcut(x);
        rows.push_back({name, indent + "  + shortcut", sample_shape_of(y), 0, y.numel()});
        rows[header].output = sample_shape_of(y);
        return y;
    }
    Tensor y = m.forward(x);
    rows.push_back({name, indent + m.describe(), sample_shape_of(y), m.parameter_count(), leaf_flops(m, x, y)});
    return y;
}

// 1234567 -> "1.23M"
std::string human(double n) {
    if (n >= 1e9) return fmt::format("{:.2f}G", n / 1e9);
    if (n >= 1e6) return fmt::format("{:.2f}M", n / 1e6);
    if (n >= 1e3) return fmt::format("{:.1f}k", n / 1e3);
    return fmt::format("{}", n);
}

}  // namespace

ModelSummary summarize(Module& model, const Shape& sample_shape) {
    NoTape no_tape;
    ModeGuard eval_mode(model, false);
    ModelSummary out;
    out.input = sample_shape;
    Shape batch_of_one{1};
    for (int i = 0; i < sample_shape.size(); ++i) batch_of_one.push_back(sample_shape[i]);
    // Eval mode uses running statistics, so a zero input passes through any layer.
    const Tensor y = walk(model, "", Tensor::zeros(batch_of_one), 0, out.layers);
    out.output = sample_shape_of(y);
    out.parameters = model.parameter_count();
    for (const LayerSummary& row : out.layers) out.flops += row.flops;
    return out;
}

std::string format_summary(const ModelSummary& s) {
    size_t w_name = 4, w_layer = 5, w_shape = 12;
    for (const LayerSummary& r : s.layers) {
        w_name = std::max(w_name, r.name.size());
        w_layer = std::max(w_layer, r.layer.size());
        w_shape = std::max(w_shape, r.output.str().size());
    }
    const auto row = [&](const std::string& name, const std::string& layer, const std::string& shape,
                         const std::string& params, const std::string& flops) {
        return fmt::format("{:<{}}  {:<{}}  {:<{}}  {:>10}  {:>13}\n", name, w_name, layer, w_layer, shape, w_shape, params, flops);
    };
    std::string out = row("name", "layer", "output shape", "params", "FLOPs");
    for (const LayerSummary& r : s.layers)
        out += row(r.name, r.layer, r.output.str(), r.parameters ? std::to_string(r.parameters) : "-",
                   r.flops ? std::to_string(r.flops) : "-");
    out += fmt::format("input {}, output {}: {} parameters ({}), {} forward FLOPs per sample ({}; a multiply-add counts 2)\n",
                       s.input.str(), s.output.str(), s.parameters, human(static_cast<double>(s.parameters)), s.flops,
                       human(static_cast<double>(s.flops)));
    return out;
}

}  // namespace bnlab
