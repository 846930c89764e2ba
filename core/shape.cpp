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

int64_t Shape::numel() const {
    int64_t n = 1;
    for (int64_t d : *this) n *= d;
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
