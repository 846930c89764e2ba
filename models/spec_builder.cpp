#include "models/spec_builder.h"

#include <fmt/format.h>

#include "core/error.h"
#include "core/memory_budget.h"
#include "layers/affine.h"
#include "layers/norm.h"
#include "layers/residual.h"
#include "layers/simple.h"

namespace bnlab {

namespace {

bool is_norm(const std::string& kind) { return kind == "bn" || kind == "ln" || kind == "gn" || kind == "noisybn"; }

WeightInit weight_init(const std::string& init) {
    if (init == "gaussian") return WeightInit::gaussian;
    if (init == "he") return WeightInit::he;
    return WeightInit::pytorch_default;
}

// Output size of a window of `kernel` sliding with `stride` over `size` padded by `padding`
// on both sides (conv2d's and the pools' formula); 0 when the window does not fit.
int64_t windows(int64_t size, int kernel, int stride, int padding) {
    return size + 2 * padding < kernel ? 0 : (size + 2 * padding - kernel) / stride + 1;
}

}  // namespace

std::string SampleShape::str() const {
    return image ? fmt::format("{}x{}x{}", channels, height, width) : fmt::format("{} features", channels);
}

SpecBuilder::SpecBuilder(const ModelConfig& config, uint64_t seed, int64_t classes, std::string model_name,
                         int64_t* float_count)
    : config_(config), seed_(seed), classes_(classes), model_name_(std::move(model_name)), float_count_(float_count) {}

bool SpecBuilder::counted(std::initializer_list<int64_t> factors, int64_t extra) {
    if (!float_count_) return false;
    const int64_t floats = checked_product(factors, "model size");
    if (__builtin_add_overflow(*float_count_, floats, float_count_) || __builtin_add_overflow(*float_count_, extra, float_count_))
        throw Error("model size: the parameter count overflows 64 bits");
    return true;
}

void SpecBuilder::fail(const SpecLayer& layer, const std::string& problem) const {
    const std::string where = model_name_.empty()
                                  ? fmt::format("spec position {} ({})", layer.position, format_layer(layer))
                                  : fmt::format("model {}, layer {}", model_name_, format_layer(layer));
    throw FieldError("model", where + ": " + problem);
}

void SpecBuilder::require_image(const SpecLayer& layer, const SampleShape& shape) const {
    if (!shape.image) fail(layer, "needs an image (C,H,W) input, gets " + shape.str() + " (after an fc, gap or flatten)");
}

void SpecBuilder::add(const std::vector<SpecLayer>& layers, Sequential& into, SampleShape& shape) {
    for (size_t i = 0; i < layers.size(); ++i)
        add_layer(layers[i], i + 1 < layers.size() && is_norm(layers[i + 1].kind), into, shape);
}

void SpecBuilder::add_layer(const SpecLayer& l, bool feeds_norm, Sequential& into, SampleShape& shape) {
    const std::string& kind = l.kind;
    if (kind == "conv") {
        // x: (C,H,W) -> (size, Ho, Wo), Ho = (H + 2p - k)/s + 1
        require_image(l, shape);
        const int padding = l.padding >= 0 ? l.padding : l.kernel / 2;
        const int64_t h = windows(shape.height, l.kernel, l.stride, padding), w = windows(shape.width, l.kernel, l.stride, padding);
        if (h < 1 || w < 1) fail(l, fmt::format("input {} is too small for a {}x{} kernel", shape.str(), l.kernel, l.kernel));
        Generator gen = next_generator();
        if (!counted({l.size, shape.channels, l.kernel, l.kernel}, l.size))
            into.add(std::make_shared<Conv2d>(shape.channels, l.size, l.kernel, gen,
                                              Conv2dOptions{.stride = l.stride, .padding = padding, .bias = !feeds_norm,
                                                            .init_scale = config_.init_scale, .init = weight_init(config_.init)}));
        shape = {l.size, h, w, true};
    } else if (kind == "fc") {
        // x: (F) -> (size); an image is flattened first: (C,H,W) -> (C*H*W)
        if (shape.image) {
            into.add(std::make_shared<Flatten>());
            shape = {checked_product({shape.channels, shape.height, shape.width}, "model size: features"), 0, 0, false};
        }
        const int64_t out = l.size > 0 ? l.size : classes_;
        Generator gen = next_generator();
        if (!counted({out, shape.channels}, out))
            into.add(std::make_shared<Linear>(shape.channels, out, gen,
                                              LinearOptions{.bias = !feeds_norm, .init_scale = config_.init_scale, .init = weight_init(config_.init)}));
        shape = {out, 0, 0, false};
    } else if (is_norm(kind)) {
        add_norm(l, into, shape);
    } else if (kind == "relu") {
        into.add(std::make_shared<ReLU>());
    } else if (kind == "sigmoid") {
        into.add(std::make_shared<Sigmoid>());
    } else if (kind == "tanh") {
        into.add(std::make_shared<Tanh>());
    } else if (kind == "maxpool" || kind == "avgpool") {
        add_pool(l, into, shape);
    } else if (kind == "gap") {
        require_image(l, shape);
        into.add(std::make_shared<GlobalAvgPool>());
        shape = {shape.channels, 0, 0, false};
    } else if (kind == "flatten") {
        into.add(std::make_shared<Flatten>());
        if (shape.image) shape = {checked_product({shape.channels, shape.height, shape.width}, "model size: features"), 0, 0, false};
    } else if (kind == "dropout") {
        // The first dropout's seed is the one the zoo has always used (seed ^ 0xd50).
        into.add(std::make_shared<Dropout>(l.p, seed_ ^ (0xd50u + 0x1000u * dropouts_++)));
    } else if (kind == "res") {
        add_residual(l, into, shape);
    } else {
        fail(l, "is not a layer of a resolved spec (models/zoo.h resolved_spec)");
    }
}

void SpecBuilder::add_norm(const SpecLayer& l, Sequential& into, const SampleShape& shape) {
    const int64_t c = shape.channels;
    if (l.kind == "gn") check_groups(l, c);
    if (counted({4, c})) return;  // at most gamma, beta, running mean, running variance
    if (l.kind == "bn" || l.kind == "noisybn") {
        if (shape.image) into.add(std::make_shared<BatchNorm2d>(c, config_.batch_norm));
        else into.add(std::make_shared<BatchNorm1d>(c, config_.batch_norm));
        if (l.kind == "noisybn") into.add(std::make_shared<NoisyAffine>(c, seed_ ^ (0x9e3779b9u * (transforms_ + 1))));
    } else if (l.kind == "ln") {
        if (shape.image) into.add(std::make_shared<GroupNorm>(1, c));
        else into.add(std::make_shared<LayerNorm>(Shape{c}));
    } else {  // gn: its own group count, or the gn_groups setting
        into.add(std::make_shared<GroupNorm>(static_cast<int>(l.size > 0 ? l.size : config_.gn_groups), c));
    }
}

void SpecBuilder::check_groups(const SpecLayer& l, int64_t channels) const {
    const int64_t groups = l.size > 0 ? l.size : config_.gn_groups;
    if (groups >= 1 && channels % groups == 0) return;
    if (l.size > 0) fail(l, fmt::format("{} groups do not divide the {} channels", groups, channels));
    throw FieldError("gn_groups", fmt::format("{} does not divide the {} channels of layer {} of {}", groups, channels,
                                              transforms_, model_name_.empty() ? "the spec" : model_name_));
}

void SpecBuilder::add_pool(const SpecLayer& l, Sequential& into, SampleShape& shape) {
    // x: (C,H,W) -> (C,Ho,Wo), Ho = (H + 2p - k)/s + 1
    require_image(l, shape);
    const int stride = l.stride > 0 ? l.stride : l.kernel;
    if (2 * l.padding > l.kernel) fail(l, fmt::format("padding {} is more than half the kernel {}", l.padding, l.kernel));
    const int64_t h = windows(shape.height, l.kernel, stride, l.padding), w = windows(shape.width, l.kernel, stride, l.padding);
    if (h < 1 || w < 1) fail(l, fmt::format("input {} is too small for a {}x{} pool", shape.str(), l.kernel, l.kernel));
    if (l.kind == "maxpool") into.add(std::make_shared<MaxPool2d>(l.kernel, stride, l.padding));
    else into.add(std::make_shared<AvgPool2d>(l.kernel, stride, l.padding));
    shape = {shape.channels, h, w, true};
}

void SpecBuilder::add_residual(const SpecLayer& l, Sequential& into, SampleShape& shape) {
    auto body = std::make_shared<Sequential>();
    SampleShape out = shape;
    add(l.body, *body, out);
    const std::string change = fmt::format("turns {} into {}", shape.str(), out.str());
    if (!shape.image || !out.image) {
        if (shape.image != out.image || shape.channels != out.channels)
            fail(l, change + ": the identity shortcut needs the same shape (images may also shrink and gain channels)");
        into.add(std::make_shared<Residual>(body));
        return;
    }
    // Option A: the stride s that maps H to ceil(H/s) (x[:, :, ::s, ::s]), then zero channels.
    int stride = 1;
    while (stride <= shape.height && ((shape.height + stride - 1) / stride != out.height || (shape.width + stride - 1) / stride != out.width))
        ++stride;
    if (stride > shape.height || out.channels < shape.channels)
        fail(l, change + ": the shortcut can only subsample the image (x[:, :, ::s, ::s]) and add zero channels");
    const int64_t extra = out.channels - shape.channels;
    into.add(std::make_shared<Residual>(body, stride, extra / 2, extra - extra / 2));
    shape = out;
}

}  // namespace bnlab
