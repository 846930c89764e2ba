// Normalization layers with PyTorch's semantics (see ../shared/reference/pytorch-semantics.md).
//
// BatchNorm: per-channel statistics over the batch (and the spatial positions).
//   training, track_running_stats: normalize with batch mean / biased variance; then
//     num_batches_tracked += 1 and running = (1-f) running + f batch_stat (unbiased variance
//     for running_var), f = momentum, or 1/num_batches_tracked when momentum is unset
//     (a cumulative moving average).
//   eval, track_running_stats: normalize with running_mean / running_var; update nothing.
//   track_running_stats off: batch statistics in both modes, and no running buffers at all
//     (they are absent from the state_dict, as in PyTorch).
//   Training with one value per channel (N*H*W == 1) is an error, not a NaN.
//   ghost_batch_size > 0 (training only): statistics per sub-batch of that many samples
//     (ghost batch BN, Hoffer et al. 2017; core/ops.h ghost_batch_norm), e.g. to study small
//     per-GPU batches on one process. Evaluation is unchanged.
//   set_sync(group) (training only): statistics over the batches of every rank of a
//     Collective (SyncBatchNorm; core/ops.h sync_batch_norm). Data-parallel training sets it
//     for `--bn-sync all` (train/distributed.h); without it each rank uses its own batch.
// LayerNorm and GroupNorm use statistics of each sample, identical in train and eval.
#pragma once

#include <optional>

#include "layers/module.h"

namespace bnlab {

class Collective;

struct BatchNormOptions {
    double eps = 1e-5;
    std::optional<double> momentum = 0.1;  // std::nullopt: cumulative moving average
    bool affine = true;
    bool track_running_stats = true;
    int64_t ghost_batch_size = 0;  // > 0: training statistics per ghost batch of this many samples
};

// Shared by BatchNorm1d and BatchNorm2d, which differ only in the input ranks they accept.
class BatchNorm : public Module {
public:
    Tensor forward(const Tensor& x) override;
    // What a Sequential fuses into BatchNorm's op (layers/module.h): forward(x), relu(forward(x))
    // (core/ops.h batch_norm_relu) or max_pool2d(relu(forward(x)), 2, 2)
    // (batch_norm_relu_max_pool2d), where the statistics are the batch's or the running ones.
    // conv_sums: the conv2d before it summed x already (only where uses_conv_sums()).
    enum class Then { nothing, relu, relu_max_pool2 };
    Tensor forward_fused(const Tensor& x, Then then, const ChannelSums* conv_sums = nullptr);
    // Whether the next forward computes plain batch statistics (training, neither ghost batches
    // nor synchronized), which the conv2d before it can sum in its output pass.
    bool uses_conv_sums() const;
    std::string describe() const override;

    Tensor weight, bias;              // gamma, beta: (C); undefined without affine
    Tensor running_mean, running_var; // (C); undefined without track_running_stats
    int64_t num_batches_tracked = 0;

    // running_mean = 0, running_var = 1, num_batches_tracked = 0 (as at construction).
    void reset_running_stats();
    // Changes the running-average momentum (nullopt: cumulative average), e.g. to recompute
    // population statistics over many batches ("PreciseBN", Wu & Johnson 2021).
    void set_momentum(std::optional<double> momentum);
    std::optional<double> momentum() const { return options_.momentum; }
    // Training statistics over every rank of `group` (nullptr: this process's batch only). The
    // group must outlive the layer's use; every rank must set the same. Error with ghost batches.
    void set_sync(Collective* group);
    Collective* sync() const { return sync_; }
    int64_t num_features() const { return num_features_; }

protected:
    BatchNorm(const char* kind, int64_t num_features, BatchNormOptions options, std::initializer_list<int> ranks);

private:
    Tensor normalize(const Tensor& x, Then then, const ChannelSums* conv_sums);

    const char* kind_;
    int64_t num_features_;
    BatchNormOptions options_;
    std::vector<int> ranks_;  // accepted input ranks
    Collective* sync_ = nullptr;
};

// x: (N,C) or (N,C,L); statistics over N (and L) per channel.
class BatchNorm1d : public BatchNorm {
public:
    explicit BatchNorm1d(int64_t num_features, BatchNormOptions options = {})
        : BatchNorm("BatchNorm1d", num_features, options, {2, 3}) {}
};

// x: (N,C,H,W); statistics over N,H,W per channel.
class BatchNorm2d : public BatchNorm {
public:
    explicit BatchNorm2d(int64_t num_features, BatchNormOptions options = {})
        : BatchNorm("BatchNorm2d", num_features, options, {4}) {}
};

// Normalizes over the trailing dimensions `normalized_shape` of each sample.
class LayerNorm : public Module {
public:
    explicit LayerNorm(const Shape& normalized_shape, double eps = 1e-5, bool elementwise_affine = true);
    Tensor forward(const Tensor& x) override;
    std::string describe() const override;

    Tensor weight, bias;  // normalized_shape; undefined without affine

private:
    Shape normalized_shape_;
    double eps_;
};

// x: (N,C,*); statistics per sample and group of C/num_groups channels.
class GroupNorm : public Module {
public:
    GroupNorm(int num_groups, int64_t num_channels, double eps = 1e-5, bool affine = true);
    Tensor forward(const Tensor& x) override;
    std::string describe() const override;

    Tensor weight, bias;  // (C)

private:
    int num_groups_;
    int64_t num_channels_;
    double eps_;
};

}  // namespace bnlab
