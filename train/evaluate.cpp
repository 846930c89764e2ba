#include "train/evaluate.h"

#include <algorithm>
#include <cmath>

#include "core/ops.h"
#include "core/tape.h"
#include "data/loader.h"

namespace bnlab {

std::vector<int32_t> argmax_rows(const Tensor& logits) {
    const int64_t N = logits.dim(0), C = logits.dim(1);
    std::vector<int32_t> out(static_cast<size_t>(N));
    for (int64_t n = 0; n < N; ++n) {
        const float* row = logits.data() + n * C;
        int64_t best = 0;
        for (int64_t c = 1; c < C; ++c)
            if (row[c] > row[best]) best = c;
        out[static_cast<size_t>(n)] = static_cast<int32_t>(best);
    }
    return out;
}

EvalResult evaluate(Module& model, const Dataset& data, int64_t limit, int64_t batch_size, const std::vector<float>& mean,
                    const std::vector<float>& std, bool batch_statistics) {
    ModeGuard mode(model, batch_statistics);
    NoTape inference;
    // A batch larger than the images evaluated is all of them in one pass (a batch of INT64_MAX
    // must not size a buffer by it, nor evaluate nothing).
    const int64_t images = limit > 0 ? std::min(limit, data.size()) : data.size();
    if (batch_size > images) batch_size = std::max<int64_t>(images, 1);
    DataLoader loader(data, LoaderOptions{.batch_size = batch_size, .shuffle = false, .limit = limit, .mean = mean, .std = std});
    const size_t classes = data.class_names.size();
    EvalResult r;
    r.confusion.assign(classes, std::vector<int64_t>(classes, 0));
    double loss_sum = 0;
    int64_t correct = 0;
    loader.start_epoch(0);
    Batch batch;
    while (loader.next(batch)) {
        Tensor logits = model(batch.images);
        const auto n = static_cast<int64_t>(batch.labels.size());
        loss_sum += static_cast<double>(cross_entropy(logits, batch.labels).item()) * static_cast<double>(n);
        const std::vector<int32_t> predicted = argmax_rows(logits);
        for (size_t i = 0; i < predicted.size(); ++i) {
            r.confusion[static_cast<size_t>(batch.labels[i])][static_cast<size_t>(predicted[i])]++;
            correct += predicted[i] == batch.labels[i];
        }
        r.count += n;
    }
    r.loss = r.count ? loss_sum / static_cast<double>(r.count) : NAN;
    r.accuracy = r.count ? static_cast<double>(correct) / static_cast<double>(r.count) : NAN;
    for (size_t k = 0; k < classes; ++k) {
        int64_t total = 0;
        for (int64_t v : r.confusion[k]) total += v;
        r.per_class_accuracy.push_back(total ? static_cast<double>(r.confusion[k][k]) / static_cast<double>(total) : NAN);
    }
    return r;
}

}  // namespace bnlab
