// TrainConfig: everything that defines a training run. Written to config.json and into the
// model file's metadata, so a run can be reproduced and a checkpoint rebuilt from it.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "models/zoo.h"

namespace bnlab {

struct TrainConfig {
    // Data
    std::string dataset = "fashion-mnist";
    std::string data_dir;     // searched first; "" = the standard search order (data/catalog.h)
    int64_t train_limit = 0;  // use the first N training samples (0: all)
    int64_t test_limit = 0;   // evaluate on the first N test samples (0: all)
    bool augment = false;     // random crop + flip (CIFAR)
    // Model
    ModelConfig model;
    // Optimization
    std::string optimizer = "sgd";  // sgd | adam | adamw
    double lr = 0.05;
    double momentum = 0.9;          // SGD
    bool nesterov = false;          // SGD
    double weight_decay = 0.0;
    std::string schedule = "constant";  // constant | step | cosine
    int64_t warmup_steps = 0;
    double clip_grad_norm = 0.0;        // 0: no clipping
    int64_t batch_size = 128;
    int64_t epochs = 1;
    int64_t steps = 0;                  // > 0: train exactly this many steps (overrides epochs)
    int64_t eval_every = 0;             // steps between test evaluations; 0: once per epoch
    uint64_t seed = 0;
    int threads = 0;                    // 0: all cores

    // Throws Error naming the first bad field (as its command-line flag).
    void validate() const;
};

nlohmann::json to_json(const TrainConfig& config);
// Missing fields keep their defaults; unknown fields are an Error (a typo must not be ignored).
TrainConfig config_from_json(const nlohmann::json& j);

}  // namespace bnlab
