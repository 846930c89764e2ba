// Views: reshape and flatten return a tensor over the same storage, no values copied.
// y = x with another shape;  dx = dy read with x's shape (same element order).
#include "core/error.h"
#include "core/ops.h"
#include "core/profiler.h"
#include "core/tape.h"

namespace bnlab {

Tensor reshape(const Tensor& x, const Shape& shape) {
    const ProfileScope profile("reshape");
    // Resolve a single -1 from the element count.
    Shape target;
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < shape.size(); ++i) {
        if (shape[i] == -1) {
            if (infer >= 0) throw ShapeError("reshape: more than one -1 in " + shape.str());
            infer = i;
        } else {
            known *= shape[i];
        }
    }
    const auto bad = [&] {
        return ShapeError("reshape: cannot view " + x.shape().str() + " (" + std::to_string(x.numel()) +
                          " elements) as " + shape.str());
    };
    for (int i = 0; i < shape.size(); ++i) {
        if (i != infer) {
            if (shape[i] < 0) throw bad();
            target.push_back(shape[i]);
        } else {
            if (known == 0 || x.numel() % known != 0) throw bad();
            target.push_back(x.numel() / known);
        }
    }
    if (target.numel() != x.numel()) throw bad();

    Tensor y = x.detach();
    y.impl()->shape = target;
    if (Tape* tape = recording_tape({&x})) {
        tape->record("reshape", {x}, y, [x](const Tensor& gy) {
            const GradTarget gx = grad_target(x);
            const float* pg = gy.data();
            store_grad(gx.data, gx.accumulate, x.numel(), [pg](int64_t i) { return pg[i]; });
        });
    }
    return y;
}

Tensor flatten(const Tensor& x, int start_dim) {
    const Shape& s = x.shape();
    const int d = start_dim < 0 ? start_dim + s.size() : start_dim;
    if (d < 0 || d >= std::max(s.size(), 1))
        throw ShapeError("flatten: start_dim " + std::to_string(start_dim) + " out of range for shape " + s.str());
    Shape target;
    for (int i = 0; i < d; ++i) target.push_back(s[i]);
    int64_t rest = 1;
    for (int i = d; i < s.size(); ++i) rest *= s[i];
    target.push_back(rest);
    return reshape(x, target);
}

Tensor Tensor::reshape(const Shape& shape) const { return bnlab::reshape(*this, shape); }
Tensor Tensor::flatten(int start_dim) const { return bnlab::flatten(*this, start_dim); }

}  // namespace bnlab
