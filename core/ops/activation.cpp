// Pointwise functions: the activations, and square and rsqrt (which BatchNorm built from ops
// needs, core/ops/batch_norm_composed.cpp). Each backward needs one tensor, the output y or
// the input x, and that is what is saved. Loops run over contiguous ranges (vectorized),
// split over threads for large tensors.
#include <cmath>

#include "core/ops.h"
#include "core/parallel.h"
#include "core/profiler.h"
#include "core/tape.h"

namespace bnlab {

namespace {

// Which tensor a pointwise backward reads besides dy.
enum class Keep { output, input };

// y = f(x) elementwise; dx = dx_from(dy, v), the chain rule written in terms of v = the output y
// (Keep::output) or the input x (Keep::input).
template <Keep keep = Keep::output, class F, class DX>
Tensor pointwise(const char* name, const Tensor& x, F f, DX dx_from) {
    const ProfileScope profile(name);
    Tensor y = Tensor::empty(x.shape());
    const float* px = x.data();
    float* py = y.data();
    parallel_for(x.numel(), 1, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) py[i] = f(px[i]);
    });
    if (Tape* tape = recording_tape({&x})) {
        tape->record(name, {x}, y, [x, kept = keep == Keep::output ? y : x, dx_from](const Tensor& gy) {
            const GradTarget gx = grad_target(x);
            const float* g = gy.data();
            const float* v = kept.data();
            parallel_for(x.numel(), 1, [&](int64_t begin, int64_t end) {
                store_grad(gx.data + begin, gx.accumulate, end - begin,
                           [&](int64_t i) { return dx_from(g[begin + i], v[begin + i]); });
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

// y = x^2;  dx = dy * 2x
Tensor square(const Tensor& x) {
    return pointwise<Keep::input>("square", x, [](float v) { return v * v; },
                                  [](float dy, float v) { return dy * (2.0f * v); });
}

// y = 1 / sqrt(x);  dy/dx = -(1/2) x^(-3/2) = -(1/2) y^3, so dx = dy * (-0.5 * y^3)
Tensor rsqrt(const Tensor& x) {
    return pointwise("rsqrt", x, [](float v) { return 1.0f / std::sqrt(v); },
                     [](float dy, float y) { return dy * (-0.5f * y * y * y); });
}

}  // namespace bnlab
