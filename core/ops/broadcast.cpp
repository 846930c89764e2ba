#include "core/ops/broadcast.h"

#include "core/error.h"
#include "core/ops.h"

namespace bnlab {

Shape broadcast_shape(const char* op, const Shape& a, const Shape& b) {
    const int nd = std::max(a.size(), b.size());
    Shape out;
    for (int d = 0; d < nd; ++d) {
        // Align from the right: dimension d of the output is a's (d - (nd - a.size())).
        const int da = d - (nd - a.size()), db = d - (nd - b.size());
        const int64_t sa = da >= 0 ? a[da] : 1, sb = db >= 0 ? b[db] : 1;
        if (sa != sb && sa != 1 && sb != 1)
            throw ShapeError(std::string(op) + ": shapes " + a.str() + " and " + b.str() +
                             " do not broadcast (dimension " + std::to_string(d) + ": " + std::to_string(sa) +
                             " vs " + std::to_string(sb) + ")");
        out.push_back(sa == 1 ? sb : sa);
    }
    return out;
}

namespace detail {

namespace {
// Row-major strides of `in` as seen from an output of rank nd: 0 where `in` is stretched.
std::array<int64_t, Shape::kMaxDims> broadcast_strides(const Shape& in, const Shape& out) {
    std::array<int64_t, Shape::kMaxDims> stride{};
    int64_t s = 1;
    for (int d = out.size() - 1; d >= 0; --d) {
        const int di = d - (out.size() - in.size());
        const int64_t n = di >= 0 ? in[di] : 1;
        stride[static_cast<size_t>(d)] = (n == 1) ? 0 : s;
        s *= n;
    }
    return stride;
}
}  // namespace

BroadcastLayout broadcast_layout(const Shape& out, const Shape& a, const Shape& b) {
    const auto sa = broadcast_strides(a, out), sb = broadcast_strides(b, out);
    BroadcastLayout L;
    // Walk dimensions left to right, merging d into the previous one when every operand
    // steps through both as one contiguous run (stride[prev] == stride[d] * size[d]).
    for (int d = 0; d < out.size(); ++d) {
        const auto n = static_cast<size_t>(d);
        if (out[d] == 1) continue;  // size-1 dimensions do not move any index
        if (L.ndim > 0) {
            const auto p = static_cast<size_t>(L.ndim - 1);
            if (L.stride_a[p] == sa[n] * out[d] && L.stride_b[p] == sb[n] * out[d]) {
                L.size[p] *= out[d];
                L.stride_a[p] = sa[n];
                L.stride_b[p] = sb[n];
                continue;
            }
        }
        const auto q = static_cast<size_t>(L.ndim++);
        L.size[q] = out[d];
        L.stride_a[q] = sa[n];
        L.stride_b[q] = sb[n];
    }
    if (L.ndim == 0) {  // every dimension is 1 (or a 0-d tensor): one element
        L.ndim = 1;
        L.size[0] = 1;
    }
    return L;
}

}  // namespace detail
}  // namespace bnlab
