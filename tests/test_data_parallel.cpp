// Data parallelism (train/data_parallel.h, the sharded loader, the Trainer with a Collective)
// on thread ranks (tests/thread_collective.h); tests/mpi/ runs the same checks over MPI.
#include <catch2/catch.hpp>

#include "data/loader.h"
#include "tests/data_parallel_checks.h"
#include "tests/synthetic_data.h"
#include "tests/thread_collective.h"

using namespace bnlab;
using namespace bnlab::testing;

namespace {

// Each rank's TrainedState of the data-parallel run.
std::vector<TrainedState> run_parallel(int ranks, BnSync mode, const std::vector<Batch>& batches) {
    std::vector<TrainedState> out(static_cast<size_t>(ranks));
    run_ranks(ranks, [&](Collective& group) { out[static_cast<size_t>(group.rank())] = data_parallel_run(group, mode, batches); });
    return out;
}

}  // namespace

TEST_CASE("data parallel: R ranks x B/R equal one process (bn-sync all: BN over B, none: ghost BN of B/R)",
          "[parallel]") {
    for (const auto& [ranks, batch] : std::vector<std::pair<int, int64_t>>{{2, 12}, {3, 12}, {3, 10}}) {
        for (const BnSync mode : {BnSync::all, BnSync::none}) {
            if (mode == BnSync::none && batch % ranks != 0) continue;  // ghost batches of B/R need R | B
            INFO(ranks << " ranks, global batch " << batch << ", bn-sync " << bn_sync_name(mode));
            const std::vector<Batch> batches = random_batches(3, batch);
            const TrainedState single = single_process_equivalent(mode, ranks, batches);
            const std::vector<TrainedState> parallel = run_parallel(ranks, mode, batches);
            for (const TrainedState& rank : parallel) {
                CHECK(max_relative_difference(rank.state, single.state) < 1e-5);
                CHECK(max_relative_difference(rank.losses, single.losses) < 1e-6);
                CHECK(rank.state == parallel[0].state);  // every rank holds the same weights, bit for bit
            }
        }
    }
}

TEST_CASE("data parallel: per-rank BN is not SyncBN (the test above can tell them apart)", "[parallel]") {
    const std::vector<Batch> batches = random_batches(3, 12);
    const TrainedState sync = single_process_equivalent(BnSync::all, 2, batches);
    const std::vector<TrainedState> per_rank = run_parallel(2, BnSync::none, batches);
    CHECK(max_relative_difference(per_rank[0].state, sync.state) > 1e-3);
}

TEST_CASE("data parallel: allreduce traffic per step", "[parallel]") {
    auto model = small_bn_net();
    int64_t params = 0, buffers = 0, channels = 0;
    for (const auto& [name, t] : model->named_parameters()) params += t.numel();
    for (const auto& [name, t] : model->named_buffers()) buffers += t.numel();
    for (const auto& [name, m] : model->named_modules())
        if (auto* bn = dynamic_cast<BatchNorm*>(m)) channels += bn->num_features();
    run_ranks(1, [&](Collective& group) {
        const DataParallel::Traffic none = DataParallel(*model, group, BnSync::none).traffic_per_step();
        CHECK(none.gradient_bytes == 4 * params);
        CHECK(none.buffer_bytes == 4 * buffers);
        CHECK(none.bn_sync_bytes == 0);
        const DataParallel::Traffic all = DataParallel(*model, group, BnSync::all, 1024).traffic_per_step();
        CHECK(all.buffer_bytes == 0);
        CHECK(all.bn_sync_bytes == 8 * (4 * channels + 2));  // two BN layers: [count, sums] forward, sums backward
        CHECK(all.buckets > 1);                               // 1 KB buckets split the gradients
    });
    CHECK_THROWS_WITH(parse_bn_sync("some"), Catch::Contains("expected none or all"));
}

TEST_CASE("DataLoader shards: the union of the shards is the unsharded batch, augmentation included", "[parallel][data]") {
    const Dataset data = test::quadrants(40, 3);
    const auto batches = [&](int shard, int shards) {
        DataLoader loader(data, LoaderOptions{.batch_size = 16, .augment = true, .seed = 5, .shard = shard, .shards = shards});
        loader.start_epoch(1);
        std::vector<Batch> out;
        for (Batch b; loader.next(b);) out.push_back(b);
        return out;
    };
    const std::vector<Batch> whole = batches(0, 1);
    std::vector<std::vector<Batch>> parts{batches(0, 3), batches(1, 3), batches(2, 3)};
    REQUIRE(whole.size() == 3);  // 16, 16, 8
    for (size_t k = 0; k < whole.size(); ++k) {
        std::vector<float> joined;
        std::vector<int64_t> indices;
        for (const auto& part : parts) {
            const auto v = part[k].images.to_vector();
            joined.insert(joined.end(), v.begin(), v.end());
            indices.insert(indices.end(), part[k].indices.begin(), part[k].indices.end());
        }
        CHECK(joined == whole[k].images.to_vector());
        CHECK(indices == whole[k].indices);
    }
    CHECK(parts[0][2].images.dim(0) == 2);  // 8 samples over 3 ranks: 2, 3, 3
    CHECK_THROWS_WITH(DataLoader(data, LoaderOptions{.shard = 2, .shards = 2}), Catch::Contains("shard 2 of 2"));
}

TEST_CASE("Trainer on 2 thread ranks equals one process with ghost batches of half the batch", "[parallel][trainer]") {
    const Dataset train = test::quadrants(256, 1), test_set = test::quadrants(64, 2);
    TrainConfig config = test::small_config("small-cnn", "bn");
    config.steps = 12;
    config.eval_every = 12;
    config.threads = 1;
    TrainConfig single = config;
    single.model.batch_norm.ghost_batch_size = config.batch_size / 2;
    Trainer one(single, train, test_set);
    TrainObserver quiet;
    const RunResult expected = one.run(quiet);

    config.ranks = 2;
    std::vector<RunResult> results(2);
    std::vector<std::vector<float>> states(2);
    run_ranks(2, [&](Collective& group) {
        Trainer trainer(config, train, test_set, &group);
        TrainObserver silent;
        results[group.rank()] = trainer.run(silent);
        states[group.rank()] = flat_state(trainer.model());
    });
    CHECK(max_relative_difference(states[0], flat_state(one.model())) < 1e-4);
    CHECK(states[0] == states[1]);
    CHECK(results[0].last.train_loss == Approx(expected.last.train_loss).epsilon(1e-4));
    CHECK(results[0].last.test_accuracy == Approx(expected.last.test_accuracy).margin(1e-9));
    // A config for 2 ranks run by one process, and the reverse, are errors naming the field.
    CHECK_THROWS_WITH(Trainer(config, train, test_set), Catch::Contains("ranks: the run is configured for 2"));
}

TEST_CASE("all_gather: every rank receives every rank's bytes, of any length, in rank order", "[parallel][collective]") {
    std::vector<std::vector<std::vector<std::byte>>> received(3);
    run_ranks(3, [&](Collective& group) {
        // rank r sends r + 1 bytes of value 10 r (rank 0 one byte, rank 2 three)
        const std::vector<std::byte> mine(static_cast<size_t>(group.rank() + 1), std::byte(10 * group.rank()));
        received[static_cast<size_t>(group.rank())] = all_gather(group, mine);
    });
    for (const auto& on_rank : received) {
        REQUIRE(on_rank.size() == 3);
        for (size_t r = 0; r < 3; ++r)
            CHECK(on_rank[r] == std::vector<std::byte>(r + 1, std::byte(10 * static_cast<int>(r))));
    }
}
