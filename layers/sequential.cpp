#include <fmt/format.h>

#include "core/error.h"
#include "core/tape.h"
#include "layers/module.h"
#include "layers/affine.h"
#include "layers/norm.h"
#include "layers/residual.h"
#include "layers/simple.h"

namespace bnlab {

Sequential::Sequential(std::initializer_list<std::shared_ptr<Module>> layers) {
    for (const auto& layer : layers) add(layer);
}

Sequential& Sequential::add(std::shared_ptr<Module> layer) {
    register_module(std::to_string(children().size()), std::move(layer));
    return *this;
}

std::shared_ptr<Sequential> sequential(std::initializer_list<std::shared_ptr<Module>> layers) {
    auto model = std::make_shared<Sequential>();
    for (const auto& layer : layers) model->add(layer);
    return model;
}

namespace {

// Layer i as a Layer, or nullptr (past the end, or another kind).
template <class Layer, class Children>
Layer* layer_as(const Children& layers, size_t i) {
    return i < layers.size() ? dynamic_cast<Layer*>(layers[i].second.get()) : nullptr;
}

}  // namespace

Tensor Sequential::forward(const Tensor& x) {
    const auto& layers = children();
    Tensor h = x;
    const ChannelSums* conv_sums = nullptr;  // the Conv2d's sums of h, for the BatchNorm next
    for (size_t i = 0; i < layers.size(); ++i) {
        auto* norm = fuse_bn_relu_ ? layer_as<BatchNorm>(layers, i) : nullptr;
        auto* conv = fuse_bn_relu_ ? layer_as<Conv2d>(layers, i) : nullptr;
        const auto* norm_next = layer_as<BatchNorm>(layers, i + 1);
        const bool relu_next = layer_as<ReLU>(layers, i + 1) != nullptr;
        const auto* pool = layer_as<MaxPool2d>(layers, i + 2);
        const bool pool_after_relu = relu_next && fuse_pool_ && h.ndim() == 4 && pool && pool->kernel_size() == 2 &&
                                     pool->stride() == 2 && pool->padding() == 0;
        if (conv && norm_next && norm_next->uses_conv_sums()) {
            h = conv->forward(h, conv_sums_);  // and the sums of its output, for the BatchNorm
            conv_sums = &conv_sums_;
            continue;
        }
        if (auto* residual = fuse_bn_relu_ ? layer_as<Residual>(layers, i) : nullptr; residual && relu_next) {
            h = residual->forward_relu(h);  // the residual sum and the ReLU after it, in one op
            ++i;
        } else if (norm) {  // BatchNorm, with the ReLU (and the pool) after it
            using Then = BatchNorm::Then;
            const Then then = pool_after_relu ? Then::relu_max_pool2 : relu_next ? Then::relu : Then::nothing;
            h = norm->forward_fused(h, then, conv_sums);
            i += then == Then::relu_max_pool2 ? 2 : then == Then::relu ? 1 : 0;
        } else {
            h = layers[i].second->forward(h);
        }
        conv_sums = nullptr;
    }
    return h;
}

void Sequential::set_fuse_bn_relu(bool fuse) {
    for (const auto& [name, module] : named_modules())
        if (auto* seq = dynamic_cast<Sequential*>(module)) seq->fuse_bn_relu_ = fuse;
}

void Sequential::set_fuse_pool(bool fuse) {
    for (const auto& [name, module] : named_modules())
        if (auto* seq = dynamic_cast<Sequential*>(module)) seq->fuse_pool_ = fuse;
}

namespace {

struct SummaryRow {
    std::string name, layer, output;
    int64_t params;
};

// Runs x through `m`, descending into Sequential containers to list their leaves.
Tensor summarize(Module& m, const std::string& name, const Tensor& x, int depth, std::vector<SummaryRow>& rows) {
    if (auto* seq = dynamic_cast<Sequential*>(&m)) {
        Tensor h = x;
        for (size_t i = 0; i < seq->size(); ++i)
            h = summarize((*seq)[i], name.empty() ? std::to_string(i) : name + "." + std::to_string(i), h, depth + 1, rows);
        return h;
    }
    Tensor y = m.forward(x);
    rows.push_back({name, std::string(static_cast<size_t>(std::max(depth - 1, 0)) * 2, ' ') + m.describe(),
                    y.shape().str(), m.parameter_count()});
    return y;
}

}  // namespace

std::string summary(Module& model, const Shape& input_shape) {
    NoTape no_tape;
    ModeGuard eval_mode(model, false);
    std::vector<SummaryRow> rows;
    // Eval mode uses running statistics, so a zero input passes through any layer.
    Tensor y = summarize(model, "", Tensor::zeros(input_shape), 0, rows);
    size_t w_name = 4, w_layer = 5;
    for (const auto& r : rows) {
        w_name = std::max(w_name, r.name.size());
        w_layer = std::max(w_layer, r.layer.size());
    }
    std::string out = fmt::format("{:<{}}  {:<{}}  {:<16}  {:>10}\n", "name", w_name, "layer", w_layer, "output shape",
                                  "params");
    out += std::string(w_name + w_layer + 32, '-') + "\n";
    for (const auto& r : rows)
        out += fmt::format("{:<{}}  {:<{}}  {:<16}  {:>10}\n", r.name, w_name, r.layer, w_layer, r.output, r.params);
    out += std::string(w_name + w_layer + 32, '-') + "\n";
    out += fmt::format("input {}  output {}  parameters {}\n", input_shape.str(), y.shape().str(), model.parameter_count());
    return out;
}

}  // namespace bnlab
