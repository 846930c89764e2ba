#include "models/zoo.h"

#include <fmt/format.h>

#include "core/error.h"
#include "layers/affine.h"
#include "layers/simple.h"

namespace bnlab {

namespace {

// Builds a Sequential one block at a time: transform [norm] activation [norm].
class ModelBuilder {
public:
    ModelBuilder(const ModelConfig& config, uint64_t seed) : config_(config), seed_(seed) {}

    // conv3x3 (padding 1) -> norm -> activation, with the norm placed per the config.
    void conv_block(int64_t in, int64_t out) {
        Generator gen = next_generator();
        const bool feeds_norm = has_norm() && !config_.norm_after_activation;
        block(std::make_shared<Conv2d>(in, out, 3, gen,
                                       Conv2dOptions{.padding = 1, .bias = !feeds_norm, .init_scale = config_.init_scale, .init = init()}),
              out, true);
    }

    // linear -> norm -> activation.
    void linear_block(int64_t in, int64_t out) {
        Generator gen = next_generator();
        const bool feeds_norm = has_norm() && !config_.norm_after_activation;
        block(std::make_shared<Linear>(in, out, gen, LinearOptions{.bias = !feeds_norm, .init_scale = config_.init_scale, .init = init()}),
              out, false);
    }

    // The classifier: no norm, always a bias.
    void output_layer(int64_t in, int64_t classes) {
        if (config_.dropout > 0.0f) model_->add(std::make_shared<Dropout>(config_.dropout, seed_ ^ 0xd50u));
        Generator gen = next_generator();
        model_->add(std::make_shared<Linear>(in, classes, gen, LinearOptions{.init_scale = config_.init_scale, .init = init()}));
    }

    void add(std::shared_ptr<Module> layer) { model_->add(std::move(layer)); }
    std::shared_ptr<Sequential> result() { return model_; }

private:
    bool has_norm() const { return config_.norm != "none"; }
    WeightInit init() const { return config_.init == "gaussian" ? WeightInit::gaussian : WeightInit::pytorch_default; }

    Generator next_generator() { return Generator(seed_).fork(transform_index_++); }

    void block(std::shared_ptr<Module> transform, int64_t channels, bool spatial) {
        model_->add(std::move(transform));
        if (!config_.norm_after_activation) add_norm(channels, spatial);
        model_->add(activation());
        if (config_.norm_after_activation) add_norm(channels, spatial);
    }

    std::shared_ptr<Module> activation() const {
        const std::string& a = config_.activation.empty() ? (config_.arch == "mlp" ? "sigmoid" : "relu") : config_.activation;
        if (a == "relu") return std::make_shared<ReLU>();
        if (a == "sigmoid") return std::make_shared<Sigmoid>();
        if (a == "tanh") return std::make_shared<Tanh>();
        throw FieldError("activation", unknown_choice("activation", a, activation_names()));
    }

    void add_norm(int64_t channels, bool spatial) {
        const std::string& n = config_.norm;
        if (n == "none") return;
        if (n == "bn" || n == "noisy-bn") {
            if (spatial) model_->add(std::make_shared<BatchNorm2d>(channels, config_.batch_norm));
            else model_->add(std::make_shared<BatchNorm1d>(channels, config_.batch_norm));
            if (n == "noisy-bn") model_->add(std::make_shared<NoisyAffine>(channels, seed_ ^ (0x9e3779b9u * (transform_index_ + 1))));
        } else if (n == "ln") {
            if (spatial) model_->add(std::make_shared<GroupNorm>(1, channels));
            else model_->add(std::make_shared<LayerNorm>(Shape{channels}));
        } else {  // gn
            if (config_.gn_groups < 1 || channels % config_.gn_groups != 0)
                throw FieldError("gn_groups", fmt::format("{} does not divide the {} channels of layer {} of {}",
                                                          config_.gn_groups, channels, transform_index_, config_.arch));
            model_->add(std::make_shared<GroupNorm>(config_.gn_groups, channels));
        }
    }

    const ModelConfig& config_;
    uint64_t seed_;
    uint64_t transform_index_ = 0;
    std::shared_ptr<Sequential> model_ = std::make_shared<Sequential>();
};

}  // namespace

const std::vector<std::string>& model_names() {
    static const std::vector<std::string> names{"mlp", "small-cnn", "mnist-cnn", "cifar-cnn"};
    return names;
}

const std::vector<std::string>& norm_names() {
    static const std::vector<std::string> names{"none", "bn", "ln", "gn", "noisy-bn"};
    return names;
}

const std::vector<std::string>& init_names() {
    static const std::vector<std::string> names{"default", "gaussian"};
    return names;
}

const std::vector<std::string>& activation_names() {
    static const std::vector<std::string> names{"relu", "sigmoid", "tanh"};
    return names;
}

void validate_names(const ModelConfig& config) {
    require_choice("model", "model", config.arch, model_names());
    require_choice("norm", "norm", config.norm, norm_names());
    require_choice("init", "init", config.init, init_names());
    if (!config.activation.empty()) require_choice("activation", "activation", config.activation, activation_names());
}

std::shared_ptr<Sequential> make_model(const ModelConfig& config, const InputSpec& input, uint64_t seed) {
    validate_names(config);
    if (input.channels < 1 || input.height < 1 || input.width < 1 || input.classes < 2)
        throw Error(fmt::format("model {}: bad input {}x{}x{} with {} classes", config.arch, input.channels, input.height,
                                input.width, input.classes));

    ModelBuilder b(config, seed);
    if (config.arch == "mlp") {
        if (config.mlp_hidden_layers < 1)
            throw FieldError("mlp_hidden_layers", fmt::format("must be >= 1, got {}", config.mlp_hidden_layers));
        if (config.mlp_width < 1) throw FieldError("mlp_width", fmt::format("must be >= 1, got {}", config.mlp_width));
        b.add(std::make_shared<Flatten>());
        int64_t width = input.channels * input.height * input.width;
        for (int i = 0; i < config.mlp_hidden_layers; ++i) {
            b.linear_block(width, config.mlp_width);
            width = config.mlp_width;
        }
        b.output_layer(width, input.classes);
        return b.result();
    }
    // Each 2x2 max-pool halves H and W (rounding down).
    int64_t h = input.height, w = input.width, c = input.channels;
    const auto pool = [&] {
        if (h < 2 || w < 2) throw Error(fmt::format("model {}: input {}x{} too small", config.arch, input.height, input.width));
        b.add(std::make_shared<MaxPool2d>(2));
        h /= 2;
        w /= 2;
    };
    if (config.arch == "small-cnn") {
        b.conv_block(c, 16);
        pool();
        b.conv_block(16, 32);
        pool();
        b.add(std::make_shared<Flatten>());
        b.output_layer(32 * h * w, input.classes);
    } else if (config.arch == "mnist-cnn") {
        b.conv_block(c, 32);
        pool();
        b.conv_block(32, 64);
        pool();
        b.add(std::make_shared<Flatten>());
        b.linear_block(64 * h * w, 128);
        b.output_layer(128, input.classes);
    } else {  // cifar-cnn
        b.conv_block(c, 32);
        b.conv_block(32, 32);
        pool();
        b.conv_block(32, 64);
        b.conv_block(64, 64);
        pool();
        b.conv_block(64, 128);
        pool();
        b.add(std::make_shared<Flatten>());
        b.output_layer(128 * h * w, input.classes);
    }
    return b.result();
}

}  // namespace bnlab
