// Data-parallel training checked against one process, for any Collective: the thread ranks of
// tests/test_data_parallel.cpp and the MPI processes of tests/mpi/test_mpi_data_parallel.cpp
// run the same checks.
//
//   R ranks x B/R, --bn-sync all  ==  one process, batch B, plain BatchNorm
//   R ranks x B/R, --bn-sync none ==  one process, batch B, ghost-batch BN with ghost batches of B/R
// compared after a few SGD steps (momentum, so the steps compound): every parameter and
// running buffer, to float rounding.
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "core/collective.h"
#include "core/random.h"
#include "data/loader.h"
#include "models/zoo.h"
#include "optim/sgd.h"
#include "train/data_parallel.h"
#include "train/trainer.h"

namespace bnlab::testing {

// small-cnn with BatchNorm on 1x8x8 images, 4 classes, weights from seed 3.
inline std::shared_ptr<Sequential> small_bn_net(int64_t ghost_batch_size = 0) {
    ModelConfig config{.arch = "small-cnn", .norm = "bn"};
    config.batch_norm.ghost_batch_size = ghost_batch_size;
    return make_model(config, InputSpec{1, 8, 8, 4}, 3);
}

// `steps` batches of `global_batch` random images (mean 0.5, so BN has something to remove).
inline std::vector<Batch> random_batches(int steps, int64_t global_batch) {
    Generator gen(17);
    std::vector<Batch> out;
    for (int s = 0; s < steps; ++s) {
        Batch b;
        b.images = Tensor::randn({global_batch, 1, 8, 8}, gen, 0.5f, 1.0f);
        for (int64_t i = 0; i < global_batch; ++i) b.labels.push_back(static_cast<int32_t>(gen.below(4)));
        out.push_back(std::move(b));
    }
    return out;
}

// Rank `rank`'s samples of a global batch: [B*rank/R, B*(rank+1)/R), as the sharded loader takes.
inline Tensor shard_images(const Tensor& images, int rank, int ranks) {
    const int64_t B = images.dim(0), lo = B * rank / ranks, hi = B * (rank + 1) / ranks;
    const int64_t per = images.numel() / B;
    std::vector<int64_t> dims{hi - lo};
    for (int d = 1; d < images.ndim(); ++d) dims.push_back(images.dim(d));
    return Tensor::from_vector(Shape(std::span<const int64_t>(dims)),
                               std::span<const float>(images.data() + lo * per, static_cast<size_t>((hi - lo) * per)));
}
inline Batch shard(const Batch& global, int rank, int ranks) {
    const int64_t B = global.images.dim(0), lo = B * rank / ranks, hi = B * (rank + 1) / ranks;
    Batch b;
    b.images = shard_images(global.images, rank, ranks);
    b.labels.assign(global.labels.begin() + lo, global.labels.begin() + hi);
    return b;
}

// Every parameter and float buffer, flattened in registration order.
inline std::vector<float> flat_state(const Module& model) {
    std::vector<float> out;
    for (const auto& [name, t] : model.named_parameters()) out.insert(out.end(), t.values().begin(), t.values().end());
    for (const auto& [name, t] : model.named_buffers()) out.insert(out.end(), t.values().begin(), t.values().end());
    return out;
}

// SGD (lr 0.1, momentum 0.9) over `batches`; with `parallel`, each batch is this rank's shard.
// Returns the state after the last step and the losses of the steps.
struct TrainedState {
    std::vector<float> state, losses;
};
inline TrainedState train_steps(Sequential& model, const std::vector<Batch>& batches, DataParallel* parallel) {
    SGD optimizer(model.parameters(), 0.1, SGDOptions{.momentum = 0.9});
    model.train();
    TrainedState out;
    for (const Batch& global : batches) {
        const Batch b = parallel ? shard(global, parallel->group().rank(), parallel->group().size()) : global;
        out.losses.push_back(train_step(model, optimizer, b, 0.0, parallel).loss);
    }
    out.state = flat_state(model);
    return out;
}

// The single-process result the data-parallel run must equal, for R ranks and mode.
inline TrainedState single_process_equivalent(BnSync mode, int ranks, const std::vector<Batch>& batches) {
    const int64_t B = batches.front().images.dim(0);
    auto model = small_bn_net(mode == BnSync::none ? B / ranks : 0);
    return train_steps(*model, batches, nullptr);
}

// The same steps data-parallel on `group`. The model starts from different weights on ranks
// other than 0 (another seed), so the test also shows that broadcast_state gives every rank
// rank 0's weights.
inline TrainedState data_parallel_run(Collective& group, BnSync mode, const std::vector<Batch>& batches) {
    auto model = group.rank() == 0 ? small_bn_net() : make_model(ModelConfig{.arch = "small-cnn", .norm = "bn"},
                                                                 InputSpec{1, 8, 8, 4}, 99);
    DataParallel parallel(*model, group, mode);
    parallel.broadcast_state();
    return train_steps(*model, batches, &parallel);
}

// Largest |a - b| / (1 + |b|) over the elements; infinity when the sizes differ.
inline double max_relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) return 1e300;
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i)
        worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]) / (1.0 + std::abs(static_cast<double>(b[i]))));
    return worst;
}

}  // namespace bnlab::testing
