#include "core/shape.h"

#include "core/error.h"

namespace bnlab {

Shape::Shape(std::initializer_list<int64_t> dims) : Shape(std::span<const int64_t>(dims.begin(), dims.size())) {}

Shape::Shape(std::span<const int64_t> dims) {
    for (int64_t d : dims) push_back(d);
}

void Shape::push_back(int64_t d) {
    if (ndim_ == kMaxDims)
        throw ShapeError("shape: more than " + std::to_string(kMaxDims) + " dimensions");
    // -1 is allowed as reshape's "infer this dimension"; tensors themselves never hold it.
    if (d < -1) throw ShapeError("shape: negative dimension " + std::to_string(d) + " after " + str());
    dims_[static_cast<size_t>(ndim_++)] = d;
}

int64_t Shape::dim(int i) const {
    const int j = i < 0 ? i + ndim_ : i;
    if (j < 0 || j >= ndim_)
        throw ShapeError("shape: dimension " + std::to_string(i) + " out of range for " + str());
    return dims_[static_cast<size_t>(j)];
}

// A product beyond int64_t (a file's shape [2^32, 2^32]) is a ShapeError, never a wrap-around.
int64_t Shape::numel() const {
    int64_t n = 1;
    bool overflow = false, has_zero = false;
    for (int64_t d : *this) {
        has_zero = has_zero || d == 0;
        overflow = __builtin_mul_overflow(n, d, &n) || overflow;
    }
    if (has_zero) return 0;
    if (overflow) throw ShapeError("shape: " + str() + " has more than 2^63 elements");
    return n;
}

bool Shape::operator==(const Shape& other) const {
    if (ndim_ != other.ndim_) return false;
    for (int i = 0; i < ndim_; ++i)
        if ((*this)[i] != other[i]) return false;
    return true;
}

std::string Shape::str() const {
    std::string s = "(";
    for (int i = 0; i < ndim_; ++i) {
        if (i) s += ',';
        s += std::to_string((*this)[i]);
    }
    return s + ")";
}

}  // namespace bnlab
