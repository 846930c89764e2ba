// Pointwise activations. Each backward needs only the output y, so that is what is saved.
#include <cmath>

#include "core/ops.h"
#include "core/profiler.h"
#include "core/tape.h"

namespace bnlab {

namespace {

// y = f(x) elementwise; dx = dy * df(y), the derivative written in terms of the output.
template <class F, class DF>
Tensor pointwise(const char* name, const Tensor& x, F f, DF df_from_y) {
    const ProfileScope profile(name);
    Tensor y = Tensor::empty(x.shape());
    const float* px = x.data();
    float* py = y.data();
    const int64_t n = x.numel();
    for (int64_t i = 0; i < n; ++i) py[i] = f(px[i]);
    if (Tape* tape = recording_tape({&x})) {
        tape->record(name, {x}, y, [x, out = y, df_from_y](const Tensor& gy) {
            float* gx = grad_buffer(x);
            const float* g = gy.data();
            const float* yv = out.data();
            for (int64_t i = 0; i < x.numel(); ++i) gx[i] += g[i] * df_from_y(yv[i]);
        });
    }
    return y;
}

}  // namespace

// y = max(x, 0);  dx = dy where y > 0, else 0
Tensor relu(const Tensor& x) {
    return pointwise("relu", x, [](float v) { return v > 0.0f ? v : 0.0f; },
                     [](float y) { return y > 0.0f ? 1.0f : 0.0f; });
}

// y = 1 / (1 + e^-x);  dx = dy * y * (1 - y)
Tensor sigmoid(const Tensor& x) {
    return pointwise("sigmoid", x, [](float v) { return 1.0f / (1.0f + std::exp(-v)); },
                     [](float y) { return y * (1.0f - y); });
}

// y = tanh(x);  dx = dy * (1 - y^2)
Tensor tanh(const Tensor& x) {
    return pointwise("tanh", x, [](float v) { return std::tanh(v); }, [](float y) { return 1.0f - y * y; });
}

}  // namespace bnlab
