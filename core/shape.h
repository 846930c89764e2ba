// Shape: the dimensions of a tensor, row-major, at most kMaxDims of them.
// Stored inline (no heap allocation), so ops can build shapes in hot paths for free.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>

namespace bnlab {

class Shape {
public:
    static constexpr int kMaxDims = 6;

    Shape() = default;
    Shape(std::initializer_list<int64_t> dims);
    explicit Shape(std::span<const int64_t> dims);

    int size() const { return ndim_; }  // number of dimensions
    bool empty() const { return ndim_ == 0; }
    int64_t operator[](int i) const { return dims_[static_cast<size_t>(i)]; }
    int64_t& operator[](int i) { return dims_[static_cast<size_t>(i)]; }
    // Dimension i, where a negative i counts from the end (-1 is the last).
    int64_t dim(int i) const;
    // Number of elements: the product of the dimensions (1 for a 0-d scalar).
    int64_t numel() const;

    const int64_t* begin() const { return dims_.data(); }
    const int64_t* end() const { return dims_.data() + ndim_; }
    void push_back(int64_t d);

    bool operator==(const Shape& other) const;
    bool operator!=(const Shape& other) const { return !(*this == other); }

    // "(2,3,28,28)"; "()" for a scalar.
    std::string str() const;

private:
    std::array<int64_t, kMaxDims> dims_{};
    int ndim_ = 0;
};

}  // namespace bnlab
