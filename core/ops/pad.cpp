// pad_channels: zero channels added on both sides of dimension 1 (the "option A" shortcut of
// He et al. 2016's CIFAR ResNets, where a stage doubles its channels without new weights).
// x: (N,C,*) -> y: (N, before + C + after, *);  y[n, before + c, ...] = x[n, c, ...], the
// rest 0.  dx[n, c, ...] = dy[n, before + c, ...]: the gradient of the zeros is dropped.
#include <algorithm>

#include "core/error.h"
#include "core/ops.h"
#include "core/profiler.h"
#include "core/tape.h"

namespace bnlab {

Tensor pad_channels(const Tensor& x, int64_t before, int64_t after) {
    const ProfileScope profile("pad_channels");
    if (x.ndim() < 2) throw ShapeError("pad_channels: input must be (N,C,...), got " + x.shape().str());
    if (before < 0 || after < 0)
        throw ShapeError("pad_channels: padding must be >= 0, got " + std::to_string(before) + " and " + std::to_string(after));
    Shape shape = x.shape();
    const int64_t N = shape[0], C = shape[1], plane = x.numel() / std::max<int64_t>(N * C, 1);
    const int64_t C_out = before + C + after;
    shape[1] = C_out;
    Tensor y = Tensor::zeros(shape);
    const float* px = x.data();
    float* py = y.data();
    // Per sample, x's C*plane values are one block inside y's C_out*plane.
    for (int64_t n = 0; n < N; ++n)
        std::copy_n(px + n * C * plane, C * plane, py + (n * C_out + before) * plane);
    if (Tape* tape = recording_tape({&x})) {
        tape->record("pad_channels", {x}, y, [x, N, C, C_out, before, plane](const Tensor& gy) {
            const GradTarget gx = grad_target(x);
            const float* pg = gy.data();
            const int64_t block = C * plane;
            store_grad(gx.data, gx.accumulate, N * block, [=](int64_t i) {
                const int64_t n = i / block;
                return pg[(n * C_out + before) * plane + i % block];
            });
        });
    }
    return y;
}

}  // namespace bnlab
