#include "layers/norm.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"
#include "core/ops.h"

namespace bnlab {

BatchNorm::BatchNorm(const char* kind, int64_t num_features, BatchNormOptions options, std::initializer_list<int> ranks)
    : kind_(kind), num_features_(num_features), options_(options), ranks_(ranks) {
    if (num_features < 1) throw Error(fmt::format("{}: num_features must be >= 1, got {}", kind, num_features));
    if (options.momentum && !(*options.momentum >= 0.0 && *options.momentum <= 1.0))
        throw Error(fmt::format("{}: momentum must be in [0, 1] (PyTorch's convention: the weight of the new "
                                "batch), got {}", kind, *options.momentum));
    if (!(options.eps > 0.0)) throw Error(fmt::format("{}: eps must be > 0, got {}", kind, options.eps));
    if (options.ghost_batch_size < 0)
        throw Error(fmt::format("{}: ghost_batch_size must be >= 0 (0: off), got {}", kind, options.ghost_batch_size));
    if (options.affine) {
        weight = Tensor::ones({num_features});
        bias = Tensor::zeros({num_features});
        register_parameter("weight", weight);
        register_parameter("bias", bias);
    }
    if (options.track_running_stats) {
        running_mean = Tensor::zeros({num_features});
        running_var = Tensor::ones({num_features});
        register_buffer("running_mean", running_mean);
        register_buffer("running_var", running_var);
        register_counter("num_batches_tracked", num_batches_tracked);
    }
}

void BatchNorm::reset_running_stats() {
    if (!options_.track_running_stats) return;
    running_mean.fill(0.0f);
    running_var.fill(1.0f);
    num_batches_tracked = 0;
}

void BatchNorm::set_momentum(std::optional<double> momentum) {
    if (momentum && !(*momentum >= 0.0 && *momentum <= 1.0))
        throw Error(fmt::format("{}: momentum must be in [0, 1], got {}", kind_, *momentum));
    options_.momentum = momentum;
}

void BatchNorm::set_sync(Collective* group) {
    if (group && options_.ghost_batch_size > 0)
        throw Error(fmt::format("{}: ghost batches and synchronized statistics exclude each other", kind_));
    sync_ = group;
}

Tensor BatchNorm::forward(const Tensor& x) { return normalize(x, Then::nothing, nullptr); }

Tensor BatchNorm::forward_fused(const Tensor& x, Then then, const ChannelSums* conv_sums) {
    return normalize(x, then, conv_sums);
}

bool BatchNorm::uses_conv_sums() const { return is_training() && options_.ghost_batch_size == 0 && !sync_; }

Tensor BatchNorm::normalize(const Tensor& x, Then then, const ChannelSums* conv_sums) {
    if (std::find(ranks_.begin(), ranks_.end(), x.ndim()) == ranks_.end())
        throw ShapeError(fmt::format("{}: expected a {} input, got {}", kind_,
                                     ranks_.size() == 1 ? "4D (N,C,H,W)" : "2D (N,C) or 3D (N,C,L)", x.shape().str()));
    if (x.dim(1) != num_features_)
        throw ShapeError(fmt::format("{}: input {} has {} channels, the layer has {}", kind_, x.shape().str(), x.dim(1),
                                     num_features_));
    const bool update_running = is_training() && options_.track_running_stats;
    double factor = 0.0;
    if (update_running) {
        // Check the batch before counting it, so a rejected batch leaves no trace. (Under sync
        // only the global count matters: sync_batch_norm checks it, on every rank alike.)
        const int64_t per_sample = x.numel() / std::max<int64_t>(x.dim(0), 1) / num_features_;
        const int64_t ghost = options_.ghost_batch_size, n = x.dim(0);
        const int64_t smallest_group = ghost > 0 && n > 0 ? (n % ghost == 0 ? ghost : n % ghost) : n;
        if (!sync_ && smallest_group * per_sample <= 1)
            throw ShapeError(fmt::format("{}: expected more than 1 value per channel when training, got input size {}{}",
                                         kind_, x.shape().str(),
                                         ghost > 0 ? fmt::format(" in ghost batches of {}", ghost) : ""));
        ++num_batches_tracked;
        factor = options_.momentum ? *options_.momentum : 1.0 / static_cast<double>(num_batches_tracked);
    }
    // Batch statistics in training, and always without running statistics.
    const bool use_batch_stats = is_training() || !options_.track_running_stats;
    // Ghost and synchronized statistics have no fused ReLU or pool: separate ops follow.
    const auto then_apart = [then](Tensor y) {
        if (then == Then::nothing) return y;
        y = relu(y);
        return then == Then::relu ? y : max_pool2d(y, 2, 2, 0);
    };
    if (is_training() && options_.ghost_batch_size > 0)
        return then_apart(ghost_batch_norm(x, running_mean, running_var, weight, bias, options_.ghost_batch_size, factor,
                                           options_.eps));
    if (is_training() && sync_)
        return then_apart(sync_batch_norm(x, running_mean, running_var, weight, bias, *sync_, factor, options_.eps));
    const auto op = then == Then::nothing ? batch_norm : then == Then::relu ? batch_norm_relu : batch_norm_relu_max_pool2d;
    return op(x, running_mean, running_var, weight, bias, use_batch_stats, factor, options_.eps,
              use_batch_stats ? conv_sums : nullptr);
}

std::string BatchNorm::describe() const {
    std::string s = fmt::format("{}({}", kind_, num_features_);
    if (options_.eps != 1e-5) s += fmt::format(", eps={}", options_.eps);
    if (!options_.momentum) s += ", momentum=None";
    else if (*options_.momentum != 0.1) s += fmt::format(", momentum={}", *options_.momentum);
    if (!options_.affine) s += ", affine=False";
    if (!options_.track_running_stats) s += ", track_running_stats=False";
    if (options_.ghost_batch_size > 0) s += fmt::format(", ghost_batch_size={}", options_.ghost_batch_size);
    if (sync_) s += ", sync=True";
    return s + ")";
}

LayerNorm::LayerNorm(const Shape& normalized_shape, double eps, bool elementwise_affine)
    : normalized_shape_(normalized_shape), eps_(eps) {
    if (normalized_shape.empty() || normalized_shape.numel() < 1)
        throw Error("LayerNorm: normalized_shape must be non-empty, got " + normalized_shape.str());
    if (elementwise_affine) {
        weight = Tensor::ones(normalized_shape);
        bias = Tensor::zeros(normalized_shape);
        register_parameter("weight", weight);
        register_parameter("bias", bias);
    }
}

Tensor LayerNorm::forward(const Tensor& x) {
    const int nd = normalized_shape_.size();
    bool fits = x.ndim() >= nd;
    for (int i = 0; fits && i < nd; ++i) fits = x.dim(x.ndim() - nd + i) == normalized_shape_[i];
    if (!fits)
        throw ShapeError(fmt::format("LayerNorm: input {} does not end with normalized_shape {}", x.shape().str(),
                                     normalized_shape_.str()));
    return layer_norm(x, nd, weight, bias, eps_);
}

std::string LayerNorm::describe() const {
    std::string dims = normalized_shape_.str();
    return fmt::format("LayerNorm({}{})", dims, weight.defined() ? "" : ", elementwise_affine=False");
}

GroupNorm::GroupNorm(int num_groups, int64_t num_channels, double eps, bool affine)
    : num_groups_(num_groups), num_channels_(num_channels), eps_(eps) {
    if (num_groups < 1 || num_channels < 1 || num_channels % num_groups != 0)
        throw Error(fmt::format("GroupNorm: num_channels ({}) must be divisible by num_groups ({})", num_channels,
                                num_groups));
    if (affine) {
        weight = Tensor::ones({num_channels});
        bias = Tensor::zeros({num_channels});
        register_parameter("weight", weight);
        register_parameter("bias", bias);
    }
}

Tensor GroupNorm::forward(const Tensor& x) {
    if (x.ndim() < 2 || x.dim(1) != num_channels_)
        throw ShapeError(fmt::format("GroupNorm: expected (N,{},...) input, got {}", num_channels_, x.shape().str()));
    return group_norm(x, num_groups_, weight, bias, eps_);
}

std::string GroupNorm::describe() const {
    return fmt::format("GroupNorm({}, {}{})", num_groups_, num_channels_, weight.defined() ? "" : ", affine=False");
}

}  // namespace bnlab
