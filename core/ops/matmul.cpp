// Matrix products through sgemm (core/ops/blas.h: OpenBLAS or BLIS): matmul and linear.
//
// sgemm computes C = alpha * op(A) op(B) + beta * C. Backward passes use beta = 1 to add
// straight into the gradient buffers, so no temporary is allocated.
#include "core/error.h"
#include "core/ops.h"
#include "core/ops/blas.h"
#include "core/profiler.h"
#include "core/tape.h"

namespace bnlab {

using detail::gemm;

// a: (M,K), b: (K,N) -> y: (M,N) = a b
// da (M,K) += dy b^T;  db (K,N) += a^T dy
Tensor matmul(const Tensor& a, const Tensor& b) {
    const ProfileScope profile("matmul");
    if (a.ndim() != 2 || b.ndim() != 2 || a.dim(1) != b.dim(0))
        throw ShapeError("matmul: cannot multiply " + a.shape().str() + " by " + b.shape().str() +
                         " (need (M,K) x (K,N))");
    const int64_t M = a.dim(0), K = a.dim(1), N = b.dim(1);
    Tensor y = Tensor::empty({M, N});
    gemm(false, false, M, N, K, 1.0f, a.data(), b.data(), 0.0f, y.data());
    if (Tape* tape = recording_tape({&a, &b})) {
        tape->record("matmul", {a, b}, y, [a, b, M, N, K](const Tensor& gy) {
            if (a.requires_grad()) gemm(false, true, M, K, N, 1.0f, gy.data(), b.data(), 1.0f, grad_buffer(a));
            if (b.requires_grad()) gemm(true, false, K, N, M, 1.0f, a.data(), gy.data(), 1.0f, grad_buffer(b));
        });
    }
    return y;
}

// x: (N,in), weight: (out,in), bias: (out) -> y: (N,out) = x weight^T + bias
// dx (N,in) += dy weight;  dweight (out,in) += dy^T x;  dbias (out) += sum over n of dy
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
    const ProfileScope profile("linear");
    if (x.ndim() != 2 || weight.ndim() != 2 || x.dim(1) != weight.dim(1))
        throw ShapeError("linear: input " + x.shape().str() + " does not match weight " + weight.shape().str() +
                         " (need input (N,in) and weight (out,in))");
    const int64_t N = x.dim(0), in = x.dim(1), out = weight.dim(0);
    if (bias.defined() && (bias.ndim() != 1 || bias.dim(0) != out))
        throw ShapeError("linear: bias " + bias.shape().str() + " does not match weight " + weight.shape().str() +
                         " (need (" + std::to_string(out) + "))");
    Tensor y = Tensor::empty({N, out});
    float* py = y.data();
    // Start from the bias in every row, then let sgemm add x weight^T on top (beta = 1).
    for (int64_t n = 0; n < N; ++n)
        for (int64_t o = 0; o < out; ++o) py[n * out + o] = bias.defined() ? bias.data()[o] : 0.0f;
    gemm(false, true, N, out, in, 1.0f, x.data(), weight.data(), 1.0f, py);

    if (Tape* tape = recording_tape({&x, &weight, &bias})) {
        tape->record("linear", {x, weight, bias}, y, [x, weight, bias, N, in, out](const Tensor& gy) {
            const float* g = gy.data();
            if (x.requires_grad()) gemm(false, false, N, in, out, 1.0f, g, weight.data(), 1.0f, grad_buffer(x));
            if (weight.requires_grad()) gemm(true, false, out, in, N, 1.0f, g, x.data(), 1.0f, grad_buffer(weight));
            if (bias.defined() && bias.requires_grad()) {
                float* gb = grad_buffer(bias);
                for (int64_t n = 0; n < N; ++n)
                    for (int64_t o = 0; o < out; ++o) gb[o] += g[n * out + o];
            }
        });
    }
    return y;
}

}  // namespace bnlab
