#include "core/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/error.h"
#include "core/random.h"

namespace bnlab {

namespace {
constexpr size_t kAlignment = 64;  // one cache line; also what AVX-512 loads like

std::string index_str(std::initializer_list<int64_t> index) {
    std::string s = "[";
    for (int64_t i : index) s += (s.size() > 1 ? "," : "") + std::to_string(i);
    return s + "]";
}
}  // namespace

Storage::Storage(int64_t size)
    : size_(size),
      // aligned_alloc wants a size that is a multiple of the alignment (and > 0).
      bytes_(std::max<size_t>(kAlignment, (static_cast<size_t>(size) * sizeof(float) + kAlignment - 1) / kAlignment *
                                              kAlignment)) {
    data_ = static_cast<float*>(MemoryPool::allocate(bytes_, pool_));
}

Storage::~Storage() { MemoryPool::release(data_, bytes_, pool_); }

Tensor Tensor::empty(const Shape& shape) {
    for (int64_t d : shape)
        if (d < 0) throw ShapeError("tensor: shape " + shape.str() + " has a negative dimension");
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = std::make_shared<Storage>(shape.numel());
    impl->shape = shape;
    return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape) { return full(shape, 0.0f); }
Tensor Tensor::ones(const Shape& shape) { return full(shape, 1.0f); }

Tensor Tensor::full(const Shape& shape, float value) {
    Tensor t = empty(shape);
    t.fill(value);
    return t;
}

Tensor Tensor::scalar(float value) { return full(Shape{}, value); }

Tensor Tensor::from_vector(const Shape& shape, std::span<const float> values) {
    if (static_cast<int64_t>(values.size()) != shape.numel())
        throw ShapeError("from_vector: " + std::to_string(values.size()) + " values do not fill shape " +
                         shape.str() + " (" + std::to_string(shape.numel()) + " elements)");
    Tensor t = empty(shape);
    std::copy(values.begin(), values.end(), t.data());
    return t;
}

Tensor Tensor::from_vector(const Shape& shape, std::initializer_list<float> values) {
    return from_vector(shape, std::span<const float>(values.begin(), values.size()));
}

Tensor Tensor::randn(const Shape& shape, Generator& gen, float mean, float std) {
    Tensor t = empty(shape);
    for (float& v : t.values()) v = gen.normal(mean, std);
    return t;
}

Tensor Tensor::uniform(const Shape& shape, Generator& gen, float low, float high) {
    Tensor t = empty(shape);
    for (float& v : t.values()) v = gen.uniform(low, high);
    return t;
}

std::vector<float> Tensor::to_vector() const { return {data(), data() + numel()}; }

float Tensor::item() const {
    if (numel() != 1)
        throw ShapeError("item: tensor of shape " + shape().str() + " has " + std::to_string(numel()) +
                         " elements, not 1");
    return data()[0];
}

float& Tensor::at(std::initializer_list<int64_t> index) {
    const Shape& s = shape();
    if (static_cast<int>(index.size()) != s.size())
        throw ShapeError("at: index " + index_str(index) + " has " + std::to_string(index.size()) +
                         " coordinates for shape " + s.str());
    int64_t flat = 0;
    int d = 0;
    for (int64_t i : index) {
        if (i < 0 || i >= s[d]) throw ShapeError("at: index " + index_str(index) + " out of range for shape " + s.str());
        flat = flat * s[d++] + i;
    }
    return data()[flat];
}

float Tensor::at(std::initializer_list<int64_t> index) const { return const_cast<Tensor*>(this)->at(index); }

Tensor Tensor::detach() const {
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = impl_->storage;
    impl->offset = impl_->offset;
    impl->shape = impl_->shape;
    return Tensor(std::move(impl));
}

Tensor Tensor::clone() const {
    Tensor t = empty(shape());
    std::memcpy(t.data(), data(), static_cast<size_t>(numel()) * sizeof(float));
    return t;
}

void Tensor::copy_from(const Tensor& src) {
    if (src.shape() != shape())
        throw ShapeError("copy_from: source " + src.shape().str() + " does not match destination " + shape().str());
    std::memcpy(data(), src.data(), static_cast<size_t>(numel()) * sizeof(float));
}

void Tensor::fill(float value) { std::fill_n(data(), numel(), value); }

bool Tensor::requires_grad() const { return impl_->requires_grad; }

Tensor& Tensor::set_requires_grad(bool value) {
    if (!impl_->is_leaf)
        throw TapeError("set_requires_grad: only leaf tensors (not op outputs) can change requires_grad");
    impl_->requires_grad = value;
    return *this;
}

bool Tensor::is_leaf() const { return impl_->is_leaf; }
Tensor Tensor::grad() const { return impl_->grad; }
void Tensor::zero_grad() { impl_->grad = Tensor(); }

Tensor& Tensor::retain_grad() {
    if (!impl_->is_leaf) impl_->retains_grad = true;
    return *this;
}

bool Tensor::retains_grad() const { return impl_->retains_grad; }

bool allclose(const Tensor& actual, const Tensor& expected, float rtol, float atol) {
    if (actual.shape() != expected.shape()) return false;
    const float* a = actual.data();
    const float* e = expected.data();
    for (int64_t i = 0; i < actual.numel(); ++i)
        if (!(std::fabs(a[i] - e[i]) <= atol + rtol * std::fabs(e[i]))) return false;
    return true;
}

}  // namespace bnlab
