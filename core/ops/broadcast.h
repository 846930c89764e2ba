// Broadcast iteration shared by the elementwise ops (internal to core/ops).
//
// for_each_broadcast(out, a, b, f) calls f(i, ia, ib) for every flat output index i, with
// ia and ib the flat indices of the input elements that output element reads. Dimensions
// that are contiguous for all three tensors are merged first, so (N,C,H,W) op (1,C,1,1)
// runs as (N, C, H*W) with b's strides (0, 1, 0): an inner loop over H*W with b fixed.
#pragma once

#include <array>
#include <cstdint>

#include "core/shape.h"

namespace bnlab::detail {

struct BroadcastLayout {
    int ndim = 0;  // after merging; at least 1
    std::array<int64_t, Shape::kMaxDims> size{};
    std::array<int64_t, Shape::kMaxDims> stride_a{};
    std::array<int64_t, Shape::kMaxDims> stride_b{};
};

// `a` and `b` must broadcast to `out` (checked by broadcast_shape beforehand).
BroadcastLayout broadcast_layout(const Shape& out, const Shape& a, const Shape& b);

template <class F>
void for_each_broadcast(const BroadcastLayout& L, F&& f) {
    const int last = L.ndim - 1;
    const int64_t inner = L.size[last], sa = L.stride_a[last], sb = L.stride_b[last];
    int64_t outer = 1;
    for (int d = 0; d < last; ++d) outer *= L.size[d];

    std::array<int64_t, Shape::kMaxDims> counter{};
    int64_t i = 0, ia = 0, ib = 0;
    for (int64_t o = 0; o < outer; ++o) {
        for (int64_t k = 0; k < inner; ++k) f(i + k, ia + k * sa, ib + k * sb);
        i += inner;
        // Advance the multi-index over the outer dimensions (odometer style).
        for (int d = last - 1; d >= 0; --d) {
            ia += L.stride_a[d];
            ib += L.stride_b[d];
            if (++counter[d] < L.size[d]) break;
            ia -= L.stride_a[d] * L.size[d];
            ib -= L.stride_b[d] * L.size[d];
            counter[d] = 0;
        }
    }
}

}  // namespace bnlab::detail
