// One training step of Conv -> BatchNorm -> ReLU -> global average pool -> cross-entropy on a
// tiny batch (N=2 images, 1 channel, 4x4, 2 filters of 3x3), forward and backward, printing
// every intermediate tensor. docs/walkthrough.md explains each number; a test runs this
// program and compares its output with the copy in the doc, so the two cannot drift.
//
// Build it with the project (cmake --build build --target walkthrough; ./build/walkthrough) or
// against an installed bnlab with the g++ line in docs/walkthrough.md.
#include <cstdint>
#include <iostream>
#include <vector>

#include "core/ops.h"
#include "core/ops/batch_norm_reference.h"
#include "core/tape.h"

using namespace bnlab;

namespace {

void show(const char* name, const Tensor& t) { std::cout << name << " =\n" << t << "\n\n"; }

}  // namespace

int main() {
    // --- the data and the parameters ------------------------------------------------------
    // x: (N=2, C=1, H=4, W=4): two small images, one class each.
    Tensor x = Tensor::from_vector({2, 1, 4, 4}, {
        0.30f, 0.29f, 0.75f, 0.89f,    // image 0 (class 0): brighter to the right
        0.00f, 0.03f, 0.37f, 0.70f,
        0.00f, 0.46f, 0.67f, 0.36f,
        0.34f, 0.44f, 0.56f, 1.00f,
        0.36f, 0.79f, 0.95f, 1.00f,    // image 1 (class 1): brighter at the top
        0.34f, 0.86f, 0.60f, 0.89f,
        0.29f, 0.57f, 0.31f, 0.25f,
        0.29f, 0.15f, 0.04f, 0.00f,
    });
    const std::vector<int32_t> labels = {0, 1};
    // weight: (F=2, C=1, 3, 3): filter 0 responds to left-to-right brightening, filter 1 to
    // top-to-bottom darkening. No conv bias: BatchNorm subtracts the mean, which would cancel it.
    Tensor weight = Tensor::from_vector({2, 1, 3, 3}, {
        -1.0f, 0.0f, 1.0f,
        -1.0f, 0.0f, 1.0f,
        -1.0f, 0.0f, 1.0f,
         1.0f, 1.0f, 1.0f,
         0.0f, 0.0f, 0.0f,
        -1.0f, -1.0f, -1.0f,
    });
    // BatchNorm's scale and shift (a fresh layer has 1 and 0; these differ so that their effect
    // shows), and its running statistics.
    Tensor gamma = Tensor::from_vector({2}, {1.0f, 0.5f}), beta = Tensor::from_vector({2}, {0.0f, 0.1f});
    Tensor running_mean = Tensor::zeros({2}), running_var = Tensor::ones({2});
    for (Tensor* p : {&weight, &gamma, &beta}) p->set_requires_grad();
    show("x", x);
    show("weight", weight);

    // --- forward, recorded on a tape --------------------------------------------------------
    Tape tape;
    Tensor z = conv2d(x, weight);  // (2,2,2,2): 3x3 filters, no padding, on 4x4 images
    Tensor y = batch_norm(z, running_mean, running_var, gamma, beta, /*training=*/true);
    Tensor a = relu(y);
    Tensor logits = global_avg_pool2d(a);  // (2,2): one score per class
    Tensor loss = cross_entropy(logits, labels);
    // Keep the intermediate gradients, which backward would otherwise free.
    for (Tensor* t : {&z, &y, &a, &logits}) t->retain_grad();

    show("z = conv2d(x, weight)", z);
    {
        // BatchNorm's per-channel statistics, from the plain-loop version (which computes the
        // same y: the fused kernel is tested against it).
        const reference::BatchNormSaved s =
            reference::batch_norm_forward(z.detach(), Tensor(), Tensor(), Tensor(), Tensor(), true).saved;
        show("batch mean of z per channel", Tensor::from_vector({2}, {float(s.mean[0]), float(s.mean[1])}));
        show("rstd = 1/sqrt(var + eps) per channel", Tensor::from_vector({2}, {float(s.rstd[0]), float(s.rstd[1])}));
    }
    show("y = batch_norm(z)", y);
    show("running_mean after the step", running_mean);
    show("running_var after the step", running_var);
    show("a = relu(y)", a);
    show("logits = global_avg_pool2d(a)", logits);
    show("loss = cross_entropy(logits, [0, 1])", loss);

    // --- backward ---------------------------------------------------------------------------
    tape.backward(loss);
    show("d loss / d logits", logits.grad());
    show("d loss / d a", a.grad());
    show("d loss / d y", y.grad());
    show("d loss / d z", z.grad());
    show("d loss / d weight", weight.grad());
    show("d loss / d gamma", gamma.grad());
    show("d loss / d beta", beta.grad());

    // --- the update: plain SGD, learning rate 0.1 -------------------------------------------
    for (Tensor* p : {&weight, &gamma, &beta})
        for (int64_t i = 0; i < p->numel(); ++i) p->data()[i] -= 0.1f * p->grad().data()[i];
    show("weight after weight -= 0.1 * grad", weight);
    return 0;
}
