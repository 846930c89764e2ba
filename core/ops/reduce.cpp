// Reductions: sum and mean, over everything or along one dimension.
//
// Along dimension d, x is viewed as (outer, D, inner) with D = x.dim(d): the element
// (o, k, i) sits at o*D*inner + k*inner + i, and y (outer, inner) = sum over k.
// Sums accumulate in double, so a large tensor does not lose low-order bits.
#include "core/error.h"
#include "core/ops.h"
#include "core/profiler.h"
#include "core/tape.h"

namespace bnlab {

namespace {

// sum(x) * scale -> 0-d;  dx = dy * scale everywhere
Tensor reduce_all(const char* name, const Tensor& x, double scale) {
    const ProfileScope profile(name);
    double total = 0.0;
    for (float v : x.values()) total += v;
    Tensor y = Tensor::scalar(static_cast<float>(total * scale));
    if (Tape* tape = recording_tape({&x})) {
        tape->record(name, {x}, y, [x, scale](const Tensor& gy) {
            const float g = static_cast<float>(gy.item() * scale);
            const GradTarget gx = grad_target(x);
            store_grad(gx.data, gx.accumulate, x.numel(), [g](int64_t) { return g; });
        });
    }
    return y;
}

// sum over dimension dim, times scale;  dx[o,k,i] = dy[o,i] * scale
Tensor reduce_dim(const char* name, const Tensor& x, int dim, bool keepdim, bool average) {
    const ProfileScope profile(name);
    const Shape& s = x.shape();
    const int d = dim < 0 ? dim + s.size() : dim;
    if (d < 0 || d >= s.size())
        throw ShapeError(std::string(name) + ": dimension " + std::to_string(dim) + " out of range for shape " +
                         s.str());
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < d; ++i) outer *= s[i];
    for (int i = d + 1; i < s.size(); ++i) inner *= s[i];
    const int64_t D = s[d];
    const double scale = average ? 1.0 / static_cast<double>(D) : 1.0;

    Shape out_shape;
    for (int i = 0; i < s.size(); ++i) {
        if (i != d) out_shape.push_back(s[i]);
        else if (keepdim) out_shape.push_back(1);
    }
    Tensor y = Tensor::empty(out_shape);
    const float* px = x.data();
    float* py = y.data();
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
            double total = 0.0;
            for (int64_t k = 0; k < D; ++k) total += px[(o * D + k) * inner + i];
            py[o * inner + i] = static_cast<float>(total * scale);
        }

    if (Tape* tape = recording_tape({&x})) {
        tape->record(name, {x}, y, [x, outer, inner, D, scale](const Tensor& gy) {
            float* gx = grad_buffer(x);
            const float* pg = gy.data();
            for (int64_t o = 0; o < outer; ++o)
                for (int64_t k = 0; k < D; ++k)
                    for (int64_t i = 0; i < inner; ++i)
                        gx[(o * D + k) * inner + i] += static_cast<float>(pg[o * inner + i] * scale);
        });
    }
    return y;
}

}  // namespace

// y = sum_i x_i
Tensor sum(const Tensor& x) { return reduce_all("sum", x, 1.0); }
// y = (1/n) sum_i x_i
Tensor mean(const Tensor& x) {
    if (x.numel() == 0) throw ShapeError("mean: empty tensor " + x.shape().str());
    return reduce_all("mean", x, 1.0 / static_cast<double>(x.numel()));
}
Tensor sum(const Tensor& x, int dim, bool keepdim) { return reduce_dim("sum", x, dim, keepdim, false); }
Tensor mean(const Tensor& x, int dim, bool keepdim) { return reduce_dim("mean", x, dim, keepdim, true); }

}  // namespace bnlab
