// Pointwise activations. Each backward needs only the output y, so that is what is saved.
// Loops run over contiguous ranges (vectorized), split over threads for large tensors.
#include <cmath>

#include "core/ops.h"
#include "core/parallel.h"
#include "core/profiler.h"
#include "core/tape.h"

namespace bnlab {

namespace {

// y = f(x) elementwise; dx = dx_from(dy, y), the chain rule written in terms of the output.
template <class F, class DX>
Tensor pointwise(const char* name, const Tensor& x, F f, DX dx_from) {
    const ProfileScope profile(name);
    Tensor y = Tensor::empty(x.shape());
    const float* px = x.data();
    float* py = y.data();
    parallel_for(x.numel(), 1, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) py[i] = f(px[i]);
    });
    if (Tape* tape = recording_tape({&x})) {
        tape->record(name, {x}, y, [x, out = y, dx_from](const Tensor& gy) {
            const GradTarget gx = grad_target(x);
            const float* g = gy.data();
            const float* yv = out.data();
            parallel_for(x.numel(), 1, [&](int64_t begin, int64_t end) {
                store_grad(gx.data + begin, gx.accumulate, end - begin,
                           [&](int64_t i) { return dx_from(g[begin + i], yv[begin + i]); });
            });
        });
    }
    return y;
}

}  // namespace

// y = max(x, 0);  dx = dy where y > 0, else 0 (a select, as PyTorch's threshold_backward)
Tensor relu(const Tensor& x) {
    return pointwise("relu", x, [](float v) { return v > 0.0f ? v : 0.0f; },
                     [](float dy, float y) { return y > 0.0f ? dy : 0.0f; });
}

// y = 1 / (1 + e^-x);  dx = dy * y * (1 - y)
Tensor sigmoid(const Tensor& x) {
    return pointwise("sigmoid", x, [](float v) { return 1.0f / (1.0f + std::exp(-v)); },
                     [](float dy, float y) { return dy * (y * (1.0f - y)); });
}

// y = tanh(x);  dx = dy * (1 - y^2)
Tensor tanh(const Tensor& x) {
    return pointwise("tanh", x, [](float v) { return std::tanh(v); },
                     [](float dy, float y) { return dy * (1.0f - y * y); });
}

}  // namespace bnlab
