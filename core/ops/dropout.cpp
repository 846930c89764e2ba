// Dropout (inverted): in training each element is kept with probability 1-p and scaled
// by 1/(1-p), so the expected output equals the input and evaluation needs no rescaling.
// y = x * m, m_i in {0, 1/(1-p)} drawn from `gen`;  dx = dy * m.
#include <string>

#include "core/error.h"
#include "core/ops.h"
#include "core/profiler.h"
#include "core/random.h"
#include "core/tape.h"

namespace bnlab {

Tensor dropout(const Tensor& x, float p, bool training, Generator& gen) {
    const ProfileScope profile("dropout");
    if (!(p >= 0.0f && p <= 1.0f)) throw Error("dropout: probability must be in [0, 1], got " + std::to_string(p));
    if (!training || p == 0.0f) return x;
    const float keep_scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    Tensor mask = Tensor::empty(x.shape());
    for (float& m : mask.values()) m = gen.uniform() < p ? 0.0f : keep_scale;

    Tensor y = Tensor::empty(x.shape());
    const float* px = x.data();
    const float* pm = mask.data();
    float* py = y.data();
    const int64_t n = x.numel();
    for (int64_t i = 0; i < n; ++i) py[i] = px[i] * pm[i];
    if (Tape* tape = recording_tape({&x})) {
        tape->record("dropout", {x}, y, [x, mask](const Tensor& gy) {
            const GradTarget gx = grad_target(x);
            const float* g = gy.data();
            const float* m = mask.data();
            store_grad(gx.data, gx.accumulate, x.numel(), [g, m](int64_t i) { return g[i] * m[i]; });
        });
    }
    return y;
}

}  // namespace bnlab
