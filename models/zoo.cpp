#include "models/zoo.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"
#include "models/spec.h"
#include "models/spec_builder.h"

namespace bnlab {

namespace {

constexpr int kMaxDepth = 1000;

// `block` n times, joined by '-'.
std::string repeat(const std::string& block, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) {
        if (i > 0) out += '-';
        out += block;
    }
    return out;
}

bool has_depth_and_width(const std::string& arch) { return arch == "mlp" || arch == "plain-cnn"; }

// plain-cnn: depth-1 convs over 3 stages of width, 2 width, 4 width channels; stages 2 and 3
// start with a stride-2 conv.
std::string plain_cnn_spec(int depth, int64_t width) {
    const int convs = depth - 1;
    std::string spec;
    for (int stage = 0; stage < 3; ++stage) {
        const int n = convs / 3 + (stage < convs % 3 ? 1 : 0);
        for (int i = 0; i < n; ++i)
            spec += fmt::format("conv{}{}-norm-act-", width << stage, stage > 0 && i == 0 ? "s2" : "");
    }
    return spec + "gap-dropout-fc";
}

std::string default_activation(const ModelConfig& config) {
    if (!config.activation.empty()) return config.activation;
    return config.arch == "mlp" ? "sigmoid" : "relu";
}

bool is_activation(const std::string& kind) { return kind == "act" || kind == "relu" || kind == "sigmoid" || kind == "tanh"; }

// basic<N>s<S> -> res(conv<N>s<S>-norm-act-conv<N>-norm)-act, inside residual bodies too.
std::vector<SpecLayer> expand_basic_blocks(const std::vector<SpecLayer>& layers) {
    std::vector<SpecLayer> out;
    for (SpecLayer l : layers) {
        l.body = expand_basic_blocks(l.body);
        if (l.kind != "basic") {
            out.push_back(std::move(l));
            continue;
        }
        const auto layer = [&](const std::string& kind, int stride = 1) {
            return SpecLayer{.kind = kind, .size = kind == "conv" ? l.size : 0, .stride = stride, .position = l.position};
        };
        SpecLayer res = layer("res");
        res.body = {layer("conv", l.stride), layer("norm"), layer("act"), layer("conv"), layer("norm")};
        out.push_back(std::move(res));
        out.push_back(layer("act"));
    }
    return out;
}

// Applies the settings: norm_after_activation swaps each norm-<activation> pair; norm, act and
// a plain dropout become the layers they mean (or nothing).
std::vector<SpecLayer> apply_settings(std::vector<SpecLayer> layers, const ModelConfig& config) {
    if (config.norm_after_activation)
        for (size_t i = 0; i + 1 < layers.size(); ++i)
            if (layers[i].kind == "norm" && is_activation(layers[i + 1].kind)) std::swap(layers[i], layers[i + 1]);
    std::vector<SpecLayer> out;
    for (SpecLayer l : layers) {
        l.body = apply_settings(std::move(l.body), config);
        if (l.kind == "norm") {
            if (config.norm == "none") continue;
            l.kind = config.norm == "noisy-bn" ? "noisybn" : config.norm;
        } else if (l.kind == "act") {
            l.kind = default_activation(config);
        } else if (l.kind == "dropout" && l.p < 0) {
            if (config.dropout <= 0) continue;
            l.p = config.dropout;
        }
        out.push_back(std::move(l));
    }
    return out;
}

std::vector<SpecLayer> resolved_layers(const ModelConfig& config) {
    return apply_settings(expand_basic_blocks(parse_spec(model_spec(config))), config);
}

}  // namespace

const std::vector<std::string>& model_names() {
    static const std::vector<std::string> names{"mlp", "small-cnn", "mnist-cnn", "cifar-cnn", "plain-cnn", "resnet20"};
    return names;
}

const std::vector<std::string>& norm_names() {
    static const std::vector<std::string> names{"none", "bn", "ln", "gn", "noisy-bn"};
    return names;
}

const std::vector<std::string>& init_names() {
    static const std::vector<std::string> names{"default", "gaussian", "he"};
    return names;
}

const std::vector<std::string>& activation_names() {
    static const std::vector<std::string> names{"relu", "sigmoid", "tanh"};
    return names;
}

bool is_model_name(const std::string& arch) { return std::ranges::find(model_names(), arch) != model_names().end(); }

std::string model_spec(const ModelConfig& c) {
    if (c.arch == "mlp") {
        const int hidden = c.depth > 0 ? c.depth - 1 : c.mlp_hidden_layers;
        return "flatten-" + repeat(fmt::format("fc{}-norm-act", c.width > 0 ? c.width : c.mlp_width), hidden) + "-dropout-fc";
    }
    if (c.arch == "small-cnn") return "conv16-norm-act-pool2-conv32-norm-act-pool2-flatten-dropout-fc";
    if (c.arch == "mnist-cnn") return "conv32-norm-act-pool2-conv64-norm-act-pool2-flatten-fc128-norm-act-dropout-fc";
    if (c.arch == "cifar-cnn")
        return "conv32-norm-act-conv32-norm-act-pool2-conv64-norm-act-conv64-norm-act-pool2-conv128-norm-act-pool2-flatten-dropout-fc";
    if (c.arch == "plain-cnn") return plain_cnn_spec(c.depth > 0 ? c.depth : 20, c.width > 0 ? c.width : 16);
    if (c.arch == "resnet20")
        return "conv16-norm-act-" + repeat("basic16", 3) + "-basic32s2-" + repeat("basic32", 2) + "-basic64s2-" +
               repeat("basic64", 2) + "-gap-dropout-fc";
    return c.arch;
}

std::string resolved_spec(const ModelConfig& config) {
    validate_model_config(config);
    return format_spec(resolved_layers(config));
}

void validate_model_config(const ModelConfig& config) {
    require_choice("norm", "norm", config.norm, norm_names());
    require_choice("init", "init", config.init, init_names());
    if (!config.activation.empty()) require_choice("activation", "activation", config.activation, activation_names());
    const std::string& arch = config.arch;
    if (!is_model_name(arch)) {
        try {
            parse_spec(arch);
        } catch (const FieldError& e) {
            // A single word that is no layer either is a mistyped model name, not a spec.
            const bool one_word = !arch.empty() && arch.find_first_of("-(") == std::string::npos;
            if (!one_word || e.problem().find("unknown layer") == std::string::npos) throw;
            throw FieldError("model", unknown_choice("model", arch, model_names()) +
                                          ", or a spec of layers such as conv32-norm-relu-pool2-fc");
        }
    }
    if (config.depth != 0 || config.width != 0) {
        const char* field = config.depth != 0 ? "depth" : "width";
        if (!has_depth_and_width(arch))
            throw FieldError(field, fmt::format("{} has a fixed {} (depth and width apply to mlp and plain-cnn)",
                                                is_model_name(arch) ? "model " + arch : "a spec", field));
        if (config.depth != 0 && (config.depth < 2 || config.depth > kMaxDepth))
            throw FieldError("depth", fmt::format("must be in [2, {}] (0: the model's default), got {}", kMaxDepth, config.depth));
        if (config.width < 0) throw FieldError("width", fmt::format("must be >= 1 (0: the model's default), got {}", config.width));
    }
    if (arch == "mlp" && config.depth == 0 && config.mlp_hidden_layers < 1)
        throw FieldError("mlp_hidden_layers", fmt::format("must be >= 1, got {}", config.mlp_hidden_layers));
    if (arch == "mlp" && config.width == 0 && config.mlp_width < 1)
        throw FieldError("mlp_width", fmt::format("must be >= 1, got {}", config.mlp_width));
}

namespace {

// make_model, or with `float_count` only the count of the floats it would allocate.
std::shared_ptr<Sequential> build_model(const ModelConfig& config, const InputSpec& input, uint64_t seed, int64_t* float_count) {
    validate_model_config(config);
    if (input.channels < 1 || input.height < 1 || input.width < 1 || input.classes < 2)
        throw Error(fmt::format("model {}: bad input {}x{}x{} with {} classes", config.arch, input.channels, input.height,
                                input.width, input.classes));
    auto model = std::make_shared<Sequential>();
    SampleShape shape{input.channels, input.height, input.width, true};
    const std::string name = is_model_name(config.arch) ? config.arch : "";
    SpecBuilder(config, seed, input.classes, name, float_count).add(resolved_layers(config), *model, shape);
    if (shape.image || shape.channels != input.classes)
        throw FieldError("model", fmt::format("{} ends with {}, but the data set has {} classes: end it with fc (one output per class){}",
                                              name.empty() ? "the spec" : "model " + name, shape.str(), input.classes,
                                              shape.image ? ", after gap or flatten" : ""));
    return model;
}

}  // namespace

std::shared_ptr<Sequential> make_model(const ModelConfig& config, const InputSpec& input, uint64_t seed) {
    return build_model(config, input, seed, nullptr);
}

int64_t model_float_count(const ModelConfig& config, const InputSpec& input) {
    int64_t floats = 0;
    build_model(config, input, 0, &floats);
    return floats;
}

}  // namespace bnlab
