// Data parallelism over a Collective (core/collective.h), Horovod-style: every rank holds the
// whole model, takes a disjoint shard of each global batch (data/loader.h: shard, shards),
// and the ranks' gradients are summed before each optimizer step, so that every rank takes the
// same step and the weights stay identical everywhere.
//
// Exactness: rank r with n_r of the global batch's N samples backpropagates its mean loss
// scaled by n_r / N, so the sum over ranks of the gradients is the gradient of the global
// batch's mean loss, even when N does not divide evenly (Trainer does the scaling).
//
// BatchNorm under data parallelism (--bn-sync):
//   none  per-rank statistics, PyTorch DDP's default: each rank normalizes with its own shard's
//         mean and variance, exactly single-process ghost-batch BN with ghost batches of the
//         per-rank size (core/ops.h ghost_batch_norm). Running statistics: each rank updates
//         its own from its shard, then they are AVERAGED over the ranks after every step (in
//         the gradient allreduce). DDP instead broadcasts rank 0's buffers before each forward
//         (broadcast_buffers=True), throwing the other ranks' statistics away; the average
//         uses every shard and equals ghost_batch_norm's running update.
//   all   SyncBatchNorm: the statistics of the global batch (core/ops.h sync_batch_norm):
//         per BN layer 2C+1 doubles allreduced in forward and 2C in backward; training then
//         equals single-process training on the global batch.
//
// Gradients are allreduced in buckets of about bucket_bytes (parameters in reverse order of
// registration, the order backward finishes them), AFTER the backward pass: bnlab's tape
// runs closures without a hook that says when a parameter's gradient is final, so the
// allreduce does not overlap with backward. (With 2 cores per node the overlap would buy
// little; on a fast network the allreduce of cifar-cnn is ~1 MB, see bytes_per_step().)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/collective.h"
#include "layers/module.h"

namespace bnlab {

enum class BnSync { none, all };

// "none" | "all" -> BnSync; Error naming `what` otherwise.
BnSync parse_bn_sync(const std::string& name, const char* what = "bn_sync");
const char* bn_sync_name(BnSync mode);

class DataParallel {
public:
    // Sets every BatchNorm of `model` to synchronize over `group` for BnSync::all. The model
    // and the group must outlive this object.
    DataParallel(Module& model, Collective& group, BnSync mode, int64_t bucket_bytes = int64_t{4} << 20);

    // Rank 0's parameters, float buffers and counters to every rank (the same initial weights
    // everywhere, whatever each rank's random state).
    void broadcast_state();
    // After backward: every parameter's gradient := the sum over ranks (a missing gradient
    // counts as zeros); with BnSync::none the BatchNorm running buffers := the mean over ranks.
    void reduce_gradients();

    // Bytes each rank sends into allreduce per training step: the gradients (and, for none,
    // the running buffers), float32; for all, the BatchNorm sums, float64.
    struct Traffic {
        int64_t gradient_bytes = 0, buffer_bytes = 0, bn_sync_bytes = 0, buckets = 0;
        int64_t total() const { return gradient_bytes + buffer_bytes + bn_sync_bytes; }
    };
    Traffic traffic_per_step() const;

    Collective& group() { return group_; }
    BnSync mode() const { return mode_; }

private:
    // One allreduce: consecutive tensors whose values together are at most bucket_bytes
    // (a bigger tensor is a bucket alone).
    struct Bucket {
        std::vector<Tensor> tensors;
        int64_t floats = 0;
        bool average = false;  // running buffers: divide the sum by the rank count
    };
    void reduce(Bucket& bucket, const std::vector<Tensor>& values);

    Module& model_;
    Collective& group_;
    BnSync mode_;
    std::vector<Bucket> buckets_;
    std::vector<float> staging_;
    int64_t bn_sync_bytes_ = 0;
};

}  // namespace bnlab
