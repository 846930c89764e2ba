// Tensor: a handle to float32 values laid out contiguously in row-major order.
//
// Copying a Tensor copies the handle, not the values: both handles see the same data,
// like std::shared_ptr. reshape() and flatten() return views that share the storage.
// A tensor can ask for a gradient (set_requires_grad); ops recorded on the active tape
// then fill its .grad() during backward (see core/tape.h and core/README.md).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <span>
#include <vector>

#include "core/memory_pool.h"
#include "core/shape.h"

namespace bnlab {

class Generator;

// One 64-byte aligned float buffer. Shared by every tensor that views it; freed with the last,
// back into the MemoryPool it came from if one was active (core/memory_pool.h).
class Storage {
public:
    explicit Storage(int64_t size);  // values are uninitialized
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;
    float* data() { return data_; }
    const float* data() const { return data_; }
    int64_t size() const { return size_; }

private:
    float* data_;
    int64_t size_;
    size_t bytes_;
    std::shared_ptr<MemoryPool::Impl> pool_;
};

struct TensorImpl;

class Tensor {
public:
    Tensor() = default;  // an undefined tensor: "no tensor here" (e.g. a layer without bias)

    // Factories.
    static Tensor empty(const Shape& shape);  // uninitialized values
    static Tensor zeros(const Shape& shape);
    static Tensor ones(const Shape& shape);
    static Tensor full(const Shape& shape, float value);
    static Tensor scalar(float value);  // 0-d
    // Copies `values`; their count must equal shape.numel().
    static Tensor from_vector(const Shape& shape, std::span<const float> values);
    static Tensor from_vector(const Shape& shape, std::initializer_list<float> values);
    static Tensor randn(const Shape& shape, Generator& gen, float mean = 0.0f, float std = 1.0f);
    static Tensor uniform(const Shape& shape, Generator& gen, float low, float high);

    bool defined() const { return impl_ != nullptr; }
    const Shape& shape() const;
    int ndim() const { return shape().size(); }
    int64_t dim(int i) const { return shape().dim(i); }  // negative i counts from the end
    int64_t numel() const { return shape().numel(); }

    // The values, contiguous, numel() of them.
    float* data();
    const float* data() const;
    std::span<float> values() { return {data(), static_cast<size_t>(numel())}; }
    std::span<const float> values() const { return {data(), static_cast<size_t>(numel())}; }
    std::vector<float> to_vector() const;

    // The single value of a tensor with one element (any shape).
    float item() const;
    // Element access by full index, e.g. x.at({n, c, h, w}). Bounds are checked.
    float& at(std::initializer_list<int64_t> index);
    float at(std::initializer_list<int64_t> index) const;

    // Views that share storage (recorded on the tape like any op; see ops.h).
    Tensor reshape(const Shape& shape) const;
    Tensor flatten(int start_dim = 1) const;
    // A handle to the same values that never requires grad (and is never recorded).
    Tensor detach() const;
    // A copy of the values into new storage (not recorded).
    Tensor clone() const;
    // Overwrite the values with another tensor's of the same shape.
    void copy_from(const Tensor& src);
    void fill(float value);

    // Gradients.
    bool requires_grad() const;
    Tensor& set_requires_grad(bool value = true);  // only on leaves
    // True for tensors made by the user (parameters, inputs), false for op outputs
    // that a tape recorded.
    bool is_leaf() const;
    // d(loss)/d(this) after backward; undefined if none has been computed. Leaves keep it;
    // an op output's gradient is freed as soon as backward has passed it, unless
    // retain_grad() was called on it (like PyTorch's retain_grad).
    Tensor grad() const;
    void zero_grad();  // drops the gradient (the next backward starts from zero)
    // Keep this op output's gradient after backward, to look at an intermediate gradient
    // (d loss / d activation). On a leaf it does nothing: leaves keep theirs anyway.
    Tensor& retain_grad();
    bool retains_grad() const;

    // Two handles to the same tensor (not the same values).
    bool same(const Tensor& other) const { return impl_ == other.impl_; }
    TensorImpl* impl() const { return impl_.get(); }
    // How many handles refer to this tensor (tests use it to see the tape let go).
    long use_count() const { return impl_.use_count(); }

private:
    explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}
    friend class Tape;
    std::shared_ptr<TensorImpl> impl_;
};

// What a handle points to. Ops reach in here only through Tensor and the tape.
struct TensorImpl {
    std::shared_ptr<Storage> storage;
    int64_t offset = 0;  // first element of this tensor in storage
    Shape shape;
    bool requires_grad = false;
    bool is_leaf = true;
    bool retains_grad = false;  // an op output whose gradient backward keeps
    Tensor grad;
};

inline const Shape& Tensor::shape() const { return impl_->shape; }
inline float* Tensor::data() { return impl_->storage->data() + impl_->offset; }
inline const float* Tensor::data() const { return impl_->storage->data() + impl_->offset; }

// Equal shapes and every value within atol + rtol * |expected|.
bool allclose(const Tensor& actual, const Tensor& expected, float rtol = 1e-5f, float atol = 1e-8f);

// Prints like PyTorch, with the shape: `tensor([[ 0.5000, -1.2500],\n        [ 2.0000,  0.0000]],
// shape=(2,2))`. One number format for all values (4 decimals, or scientific when values are
// huge or tiny); tensors of more than 1000 values show only the first and last 3 entries of
// each long dimension, with `...` between; `, requires_grad` at the end when it does.
// core/tensor_print.cpp.
std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace bnlab
