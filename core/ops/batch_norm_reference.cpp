// BatchNorm (Ioffe & Szegedy 2015) in plain loops: see batch_norm_reference.h.
//
// x: (N,C,*) seen as (N,C,S), S = the product of the trailing dims (1 for (N,C)); element
// (n,c,s) sits at (n*C + c)*S + s. Channel c has M = N*S values x_i, i = (n,s). Per channel:
//
//   mu   = (1/M) sum_i x_i                      (loop 1)
//   var  = (1/M) sum_i (x_i - mu)^2             (loop 2; biased, as in the paper and PyTorch)
//   rstd = 1 / sqrt(var + eps)
//   xhat_i = (x_i - mu) * rstd
//   y_i  = gamma * xhat_i + beta                (loop 3)
//
// In evaluation mu and var are the running statistics: constants, not functions of x.
#include "core/ops/batch_norm_reference.h"

#include <cmath>
#include <string>

#include "core/error.h"

namespace bnlab::reference {

namespace {

double param(const Tensor& t, int64_t c, double absent) { return t.defined() ? t.data()[c] : absent; }

}  // namespace

BatchNormResult batch_norm_forward(const Tensor& x, Tensor running_mean, Tensor running_var, const Tensor& weight,
                                   const Tensor& bias, bool training, double momentum, double eps) {
    if (x.ndim() < 2) throw ShapeError("reference::batch_norm: input must be (N,C,...), got " + x.shape().str());
    const int64_t N = x.dim(0), C = x.dim(1), S = x.numel() / (N * C), M = N * S;
    if (!training && !running_mean.defined())
        throw Error("reference::batch_norm: evaluation needs running_mean and running_var");
    if (training && M < 2) throw ShapeError("reference::batch_norm: training needs more than 1 value per channel");
    const float* px = x.data();
    BatchNormResult out{Tensor::empty(x.shape()), {std::vector<double>(C), std::vector<double>(C), training}};
    float* py = out.y.data();

    for (int64_t c = 0; c < C; ++c) {
        double mu = 0.0, var = 0.0;
        if (training) {
            // loop 1: the mean of channel c over the batch and every position
            for (int64_t n = 0; n < N; ++n)
                for (int64_t s = 0; s < S; ++s) mu += px[(n * C + c) * S + s];
            mu /= static_cast<double>(M);
            // loop 2: the (biased) variance around that mean
            for (int64_t n = 0; n < N; ++n)
                for (int64_t s = 0; s < S; ++s) {
                    const double d = px[(n * C + c) * S + s] - mu;
                    var += d * d;
                }
            var /= static_cast<double>(M);
            // The running statistics remember an exponential average for evaluation. PyTorch
            // stores the unbiased variance there: var * M / (M - 1).
            if (running_mean.defined()) {
                float& rm = running_mean.data()[c];
                float& rv = running_var.data()[c];
                rm = static_cast<float>((1.0 - momentum) * rm + momentum * mu);
                rv = static_cast<float>((1.0 - momentum) * rv +
                                        momentum * var * static_cast<double>(M) / static_cast<double>(M - 1));
            }
        } else {
            mu = running_mean.data()[c];
            var = running_var.data()[c];
        }
        const double rstd = 1.0 / std::sqrt(var + eps);
        out.saved.mean[c] = mu;
        out.saved.rstd[c] = rstd;
        // loop 3: normalize, then scale and shift
        const double gamma = param(weight, c, 1.0), beta = param(bias, c, 0.0);
        for (int64_t n = 0; n < N; ++n)
            for (int64_t s = 0; s < S; ++s) {
                const int64_t i = (n * C + c) * S + s;
                const double xhat = (px[i] - mu) * rstd;
                py[i] = static_cast<float>(gamma * xhat + beta);
            }
    }
    return out;
}

// Backward, per channel, with dy_i = d loss / d y_i given. Follow each variable to the loss.
//
// gamma and beta touch every y_i of the channel:
//   dbeta  = sum_i dy_i                                   (loop 1)
//   dgamma = sum_i dy_i * xhat_i                          (loop 1)
// xhat_i only reaches y_i:
//   dxhat_i = dy_i * gamma
// var reaches every xhat_i through rstd = (var + eps)^(-1/2), d rstd / d var = -rstd^3 / 2:
//   dvar = sum_i dxhat_i * (x_i - mu) * (-1/2) * rstd^3   (loop 2)
// mu reaches every xhat_i directly (d xhat_i / d mu = -rstd) and also var
// (d var / d mu = (1/M) sum_j -2 (x_j - mu)):
//   dmu  = sum_i dxhat_i * (-rstd) + dvar * (1/M) sum_j -2 (x_j - mu)   (loop 2)
//   The second term is zero, since the x_j - mu sum to zero; it is computed anyway, to show
//   the whole chain rule (darknet's batchnorm_layer.c keeps it too, pjreddie/darknet#1723).
// x_i reaches the loss three ways: through its own xhat_i, through var and through mu
// (d var / d x_i = 2 (x_i - mu) / M, d mu / d x_i = 1 / M):
//   dx_i = dxhat_i * rstd + dvar * 2 (x_i - mu) / M + dmu / M          (loop 3)
//
// Substituting dvar and dmu gives the one-line form the fused kernel computes:
//   dx_i = (gamma * rstd / M) * (M dy_i - sum_j dy_j - xhat_i * sum_j dy_j xhat_j)
// In evaluation mu and var are constants, so dvar and dmu are not there: dx_i = dxhat_i * rstd.
BatchNormGrads batch_norm_backward(const Tensor& x, const Tensor& weight, const BatchNormSaved& saved,
                                   const Tensor& dy) {
    if (dy.shape() != x.shape())
        throw ShapeError("reference::batch_norm_backward: dy " + dy.shape().str() + " does not match x " +
                         x.shape().str());
    const int64_t N = x.dim(0), C = x.dim(1), S = x.numel() / (N * C), M = N * S;
    const float* px = x.data();
    const float* pdy = dy.data();
    BatchNormGrads grads{Tensor::empty(x.shape()), weight.defined() ? Tensor::empty({C}) : Tensor(),
                         Tensor::empty({C})};
    float* pdx = grads.x.data();

    for (int64_t c = 0; c < C; ++c) {
        const double mu = saved.mean[c], rstd = saved.rstd[c], gamma = param(weight, c, 1.0);
        // loop 1: the parameter gradients
        double dgamma = 0.0, dbeta = 0.0;
        for (int64_t n = 0; n < N; ++n)
            for (int64_t s = 0; s < S; ++s) {
                const int64_t i = (n * C + c) * S + s;
                dbeta += pdy[i];
                dgamma += pdy[i] * (px[i] - mu) * rstd;
            }
        if (grads.weight.defined()) grads.weight.data()[c] = static_cast<float>(dgamma);
        grads.bias.data()[c] = static_cast<float>(dbeta);
        // loop 2: the gradients of the statistics (none in evaluation: they are constants)
        double dvar = 0.0, dmu = 0.0;
        if (saved.batch_statistics) {
            double sum_centered = 0.0;  // sum_j (x_j - mu): zero up to rounding
            for (int64_t n = 0; n < N; ++n)
                for (int64_t s = 0; s < S; ++s) {
                    const int64_t i = (n * C + c) * S + s;
                    const double dxhat = pdy[i] * gamma;
                    dvar += dxhat * (px[i] - mu) * -0.5 * rstd * rstd * rstd;
                    dmu += dxhat * -rstd;
                    sum_centered += px[i] - mu;
                }
            dmu += dvar * -2.0 * sum_centered / static_cast<double>(M);
        }
        // loop 3: the input gradient, through xhat_i, var and mu
        for (int64_t n = 0; n < N; ++n)
            for (int64_t s = 0; s < S; ++s) {
                const int64_t i = (n * C + c) * S + s;
                const double dxhat = pdy[i] * gamma;
                const double dx = dxhat * rstd + dvar * 2.0 * (px[i] - mu) / static_cast<double>(M) +
                                  dmu / static_cast<double>(M);
                pdx[i] = static_cast<float>(dx);
            }
    }
    return grads;
}

}  // namespace bnlab::reference
