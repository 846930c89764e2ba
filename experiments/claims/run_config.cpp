#include "experiments/claims/run_config.h"

namespace bnlab::claims {

TrainConfig run_config(const Dataset& train, const ModelConfig& model, const RunSpec& spec) {
    return {.dataset = train.name,
            .model = model,
            .optimizer = spec.optimizer,
            .lr = spec.lr,
            .momentum = spec.momentum,
            .weight_decay = 0.0,
            .batch_size = spec.batch,
            .epochs = spec.epochs,
            .steps = spec.steps,
            .eval_every = spec.eval_every,
            .seed = spec.seed,
            .threads = spec.threads};
}

}  // namespace bnlab::claims
