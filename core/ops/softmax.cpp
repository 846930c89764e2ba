// log_softmax and the fused softmax cross-entropy loss.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/ops.h"
#include "core/profiler.h"
#include "core/tape.h"

namespace bnlab {

// Along dimension d, x is (outer, D, inner); each (o, i) is one softmax over k in [0, D).
// y_k = x_k - m - log(sum_j exp(x_j - m)), m = max_j x_j (subtracting m keeps exp <= 1).
// dx_k = dy_k - softmax_k * sum_j dy_j, with softmax_k = exp(y_k).
Tensor log_softmax(const Tensor& x, int dim) {
    const ProfileScope profile("log_softmax");
    const Shape& s = x.shape();
    const int d = dim < 0 ? dim + s.size() : dim;
    if (d < 0 || d >= s.size())
        throw ShapeError("log_softmax: dimension " + std::to_string(dim) + " out of range for shape " + s.str());
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < d; ++i) outer *= s[i];
    for (int i = d + 1; i < s.size(); ++i) inner *= s[i];
    const int64_t D = s[d];

    Tensor y = Tensor::empty(s);
    const float* px = x.data();
    float* py = y.data();
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
            const float* xr = px + o * D * inner + i;
            float* yr = py + o * D * inner + i;
            float m = xr[0];
            for (int64_t k = 1; k < D; ++k) m = std::max(m, xr[k * inner]);
            double total = 0.0;
            for (int64_t k = 0; k < D; ++k) total += std::exp(static_cast<double>(xr[k * inner] - m));
            const float log_total = static_cast<float>(std::log(total));
            for (int64_t k = 0; k < D; ++k) yr[k * inner] = xr[k * inner] - m - log_total;
        }

    if (Tape* tape = recording_tape({&x})) {
        tape->record("log_softmax", {x}, y, [x, out = y, outer, inner, D](const Tensor& gy) {
            float* gx = grad_buffer(x);
            const float* g = gy.data();
            const float* yv = out.data();
            for (int64_t o = 0; o < outer; ++o)
                for (int64_t i = 0; i < inner; ++i) {
                    const int64_t base = o * D * inner + i;
                    double gsum = 0.0;
                    for (int64_t k = 0; k < D; ++k) gsum += g[base + k * inner];
                    for (int64_t k = 0; k < D; ++k) {
                        const int64_t j = base + k * inner;
                        gx[j] += g[j] - std::exp(yv[j]) * static_cast<float>(gsum);
                    }
                }
        });
    }
    return y;
}

// loss = (1/N) sum_n [ lse_n - x[n, label_n] ],  lse_n = m_n + log sum_c exp(x[n,c] - m_n)
// dx[n,c] = dloss/N * (softmax[n,c] - [c == label_n]),  softmax[n,c] = exp(x[n,c] - lse_n)
Tensor cross_entropy(const Tensor& logits, std::span<const int32_t> labels) {
    const ProfileScope profile("cross_entropy");
    if (logits.ndim() != 2)
        throw ShapeError("cross_entropy: logits must be (N,C), got " + logits.shape().str());
    const int64_t N = logits.dim(0), C = logits.dim(1);
    if (static_cast<int64_t>(labels.size()) != N)
        throw ShapeError("cross_entropy: " + std::to_string(labels.size()) + " labels for logits " +
                         logits.shape().str());
    if (N == 0) throw ShapeError("cross_entropy: empty batch");
    for (int64_t n = 0; n < N; ++n)
        if (labels[static_cast<size_t>(n)] < 0 || labels[static_cast<size_t>(n)] >= C)
            throw Error("cross_entropy: label " + std::to_string(labels[static_cast<size_t>(n)]) + " at index " +
                        std::to_string(n) + " is out of range for " + std::to_string(C) + " classes");

    auto lse = std::make_shared<std::vector<float>>(static_cast<size_t>(N));
    const float* px = logits.data();
    double total = 0.0;
    for (int64_t n = 0; n < N; ++n) {
        const float* row = px + n * C;
        float m = row[0];
        for (int64_t c = 1; c < C; ++c) m = std::max(m, row[c]);
        double z = 0.0;
        for (int64_t c = 0; c < C; ++c) z += std::exp(static_cast<double>(row[c] - m));
        const double lse_n = m + std::log(z);
        (*lse)[static_cast<size_t>(n)] = static_cast<float>(lse_n);
        total += lse_n - row[labels[static_cast<size_t>(n)]];
    }
    Tensor loss = Tensor::scalar(static_cast<float>(total / static_cast<double>(N)));

    if (Tape* tape = recording_tape({&logits})) {
        std::vector<int32_t> saved_labels(labels.begin(), labels.end());
        tape->record("cross_entropy", {logits}, loss,
                     [logits, lse, saved_labels = std::move(saved_labels), N, C](const Tensor& gy) {
                         const float scale = gy.item() / static_cast<float>(N);
                         float* gx = grad_buffer(logits);
                         const float* x = logits.data();
                         for (int64_t n = 0; n < N; ++n) {
                             const float l = (*lse)[static_cast<size_t>(n)];
                             for (int64_t c = 0; c < C; ++c) gx[n * C + c] += scale * std::exp(x[n * C + c] - l);
                             gx[n * C + saved_labels[static_cast<size_t>(n)]] -= scale;
                         }
                     });
    }
    return loss;
}

}  // namespace bnlab
