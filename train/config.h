// TrainConfig: everything that defines a training run. Written to config.json and into the
// model file's metadata, so a run can be reproduced and a checkpoint rebuilt from it.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "models/zoo.h"

namespace bnlab {

struct TrainConfig {
    // Data
    std::string dataset = "fashion-mnist";  // a label here: the caller loads the data (data/catalog.h names)
    std::string data_dir;     // searched first; "" = the standard search order (data/catalog.h)
    int64_t train_limit = 0;  // use the first N training samples (0: all)
    int64_t test_limit = 0;   // evaluate on the first N test samples (0: all)
    bool augment = false;     // random crop + flip (CIFAR)
    // Model
    ModelConfig model;
    // Optimization
    std::string optimizer = "sgd";  // one of optimizer_names()
    double lr = 0.05;
    double momentum = 0.9;          // SGD
    bool nesterov = false;          // SGD
    double weight_decay = 0.0;
    // > 0: the parameters no norm makes scale-invariant (the last linear layer, biases, the norms'
    // own weight and bias: models/param_groups.h) train at this rate, the others at lr. A ratio
    // to lr, so a schedule scales both. 0: every parameter at lr.
    double unnormalized_lr = 0.0;
    std::string schedule = "constant";  // one of schedule_names()
    int64_t warmup_steps = 0;
    double clip_grad_norm = 0.0;        // 0: no clipping
    int64_t batch_size = 128;
    int64_t epochs = 1;
    int64_t steps = 0;                  // > 0: train exactly this many steps (overrides epochs)
    int64_t eval_every = 0;             // steps between test evaluations; 0: once per epoch
    uint64_t seed = 0;
    int threads = 0;                    // 0: the idle cores at the start of the run (core/parallel.h default_threads)
    // Data parallelism (train/data_parallel.h): the number of processes each global batch of
    // batch_size samples is spread over (the Trainer checks it against its Collective), and
    // how their BatchNorms compute statistics: none (per rank) | all (SyncBatchNorm).
    int ranks = 1;
    std::string bn_sync = "none";

    // Throws FieldError naming the first bad field by its config.json key (to_json below), e.g.
    // "batch_size: must be >= 1, got 0" or "model: unknown model 'resnet' (known: ...)".
    void validate() const;
};

// The values the string fields accept: the one list that validate(), the trainer, error
// messages and the command line's --help read (models/zoo.h has the model's, data/catalog.h
// the data sets).
const std::vector<std::string>& optimizer_names();  // sgd, adam, adamw
const std::vector<std::string>& schedule_names();   // constant, step (x0.1 at 1/3 and 2/3), cosine

nlohmann::json to_json(const TrainConfig& config);
// Missing fields keep their defaults; unknown fields are an Error (a typo must not be ignored).
TrainConfig config_from_json(const nlohmann::json& j);

}  // namespace bnlab
