#include "train/data_parallel.h"

#include <algorithm>

#include "core/error.h"
#include "core/profiler.h"
#include "core/tape.h"
#include "layers/norm.h"

namespace bnlab {

BnSync parse_bn_sync(const std::string& name, const char* what) {
    if (name == "none") return BnSync::none;
    if (name == "all") return BnSync::all;
    throw Error(std::string(what) + ": expected none or all, got '" + name + "'");
}

const char* bn_sync_name(BnSync mode) { return mode == BnSync::all ? "all" : "none"; }

DataParallel::DataParallel(Module& model, Collective& group, BnSync mode, int64_t bucket_bytes)
    : model_(model), group_(group), mode_(mode) {
    const int64_t bucket_floats = std::max<int64_t>(bucket_bytes / 4, 1);
    const auto add = [&](const Tensor& t, bool average) {
        if (buckets_.empty() || buckets_.back().average != average ||
            buckets_.back().floats + t.numel() > bucket_floats)
            buckets_.push_back(Bucket{{}, 0, average});
        buckets_.back().tensors.push_back(t);
        buckets_.back().floats += t.numel();
    };
    // Reverse registration order: the output layer's gradients are complete first.
    std::vector<Tensor> params = model.parameters();
    for (auto it = params.rbegin(); it != params.rend(); ++it) add(*it, false);
    if (mode == BnSync::none)
        for (const auto& [name, buffer] : model.named_buffers()) add(buffer, true);
    for (const auto& [name, module] : model.named_modules())
        if (auto* bn = dynamic_cast<BatchNorm*>(module)) {
            if (mode == BnSync::all) bn->set_sync(&group);
            // Forward [count, sum (C), sum of squares (C)], backward [sum dy (C), sum dy xhat (C)].
            if (mode == BnSync::all) bn_sync_bytes_ += 8 * (4 * bn->num_features() + 1);
        }
    int64_t largest = 0;
    for (const Bucket& b : buckets_) largest = std::max(largest, b.floats);
    staging_.resize(static_cast<size_t>(largest));
}

void DataParallel::broadcast_state() {
    for (Tensor p : model_.parameters()) group_.broadcast(p.values(), 0);
    for (auto [name, buffer] : model_.named_buffers()) group_.broadcast(buffer.values(), 0);
}

void DataParallel::reduce(Bucket& bucket, const std::vector<Tensor>& values) {
    // Copy into one contiguous message, allreduce, copy back.
    float* out = staging_.data();
    for (const Tensor& v : values) out = std::copy_n(v.data(), v.numel(), out);
    group_.allreduce_sum(std::span<float>(staging_.data(), static_cast<size_t>(bucket.floats)));
    const float scale = bucket.average ? 1.0f / static_cast<float>(group_.size()) : 1.0f;
    const float* in = staging_.data();
    for (Tensor v : values) {
        float* dst = v.data();
        for (int64_t i = 0; i < v.numel(); ++i) dst[i] = in[i] * scale;
        in += v.numel();
    }
}

void DataParallel::reduce_gradients() {
    const ProfileScope profile("allreduce");
    for (Bucket& bucket : buckets_) {
        std::vector<Tensor> values;
        for (const Tensor& t : bucket.tensors) {
            if (bucket.average) values.push_back(t);
            else {
                grad_buffer(t);  // a parameter without a gradient this step contributes zeros
                values.push_back(t.grad());
            }
        }
        reduce(bucket, values);
    }
}

DataParallel::Traffic DataParallel::traffic_per_step() const {
    Traffic t;
    for (const Bucket& b : buckets_) (b.average ? t.buffer_bytes : t.gradient_bytes) += 4 * b.floats;
    t.bn_sync_bytes = bn_sync_bytes_;
    t.buckets = static_cast<int64_t>(buckets_.size());
    return t;
}

}  // namespace bnlab
