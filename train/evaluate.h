// Evaluation: loss, accuracy, per-class accuracy and the confusion matrix of a model on a
// dataset, in eval mode (BatchNorm uses running statistics, dropout is off), without a tape.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "data/dataset.h"
#include "layers/module.h"

namespace bnlab {

struct EvalResult {
    int64_t count = 0;
    double loss = 0, accuracy = 0;
    std::vector<std::vector<int64_t>> confusion;  // [true class][predicted class]
    std::vector<double> per_class_accuracy;       // NaN for a class with no samples
};

// The first `limit` samples (0: all), in batches of `batch_size`, normalized with `mean`/`std`
// (those the model was trained with; empty: the data set's own). In eval mode, unless
// batch_statistics: then in training mode, so BatchNorm normalizes each batch with its own
// statistics (and updates its running statistics: callers that want them kept must save and
// restore them; see the inference claim). The model's mode is restored afterwards (ModeGuard).
EvalResult evaluate(Module& model, const Dataset& data, int64_t limit = 0, int64_t batch_size = 500,
                    const std::vector<float>& mean = {}, const std::vector<float>& std = {},
                    bool batch_statistics = false);

// Index of the largest logit of each row of (N,C) logits.
std::vector<int32_t> argmax_rows(const Tensor& logits);

}  // namespace bnlab
