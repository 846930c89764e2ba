// The one place claims build a training run's TrainConfig.
//
// A claim names the model and what it varies in training (the learning rate, the batch, how
// long, the seed) with designated initializers; everything else keeps TrainConfig's defaults: SGD with momentum
// 0.9, constant learning rate, no weight decay (pitfall 2 of bn-claims.md: weight decay
// interacts with BN's scale invariance), one evaluation per epoch, the idle cores' threads.
//   run_config(data.train, {.arch = "small-cnn", .norm = "bn"},
//              {.lr = 0.1, .momentum = 0.0, .batch = 60, .steps = 3000, .seed = 2})
#pragma once

#include <cstdint>
#include <string>

#include "data/dataset.h"
#include "train/config.h"

namespace bnlab::claims {

// The fields in TrainConfig's order; the defaults are TrainConfig's (tests/test_claim_runs.cpp
// checks that they agree).
struct RunSpec {
    std::string optimizer = "sgd";  // sgd | adam | adamw
    double lr = 0.05;
    double momentum = 0.9;          // SGD; 0: plain SGD
    int64_t batch = 128;
    int64_t epochs = 1;
    int64_t steps = 0;              // > 0: exactly this many steps (epochs ignored)
    int64_t eval_every = 0;         // steps between evaluations; 0: once per epoch
    uint64_t seed = 0;
    int threads = 0;                // 0: the idle cores (ClaimOptions::threads overrides it)
};

// The config that trains `model` on `train` (its name is the run's data set) as `spec` says.
TrainConfig run_config(const Dataset& train, const ModelConfig& model, const RunSpec& spec);

}  // namespace bnlab::claims
