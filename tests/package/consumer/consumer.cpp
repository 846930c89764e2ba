// Builds a model from the installed bnlab, runs one training step and prints the loss.
#include <cstdio>

#include "core/ops.h"
#include "core/tape.h"
#include "layers/layers.h"
#include "optim/sgd.h"

int main() {
    using namespace bnlab;
    Generator gen(1);
    Sequential model;
    model.add(std::make_shared<Linear>(4, 8, gen));
    model.add(std::make_shared<BatchNorm1d>(8));
    model.add(std::make_shared<ReLU>());
    model.add(std::make_shared<Linear>(8, 3, gen));
    SGD sgd(model.parameters(), 0.1);
    Tensor x = Tensor::randn(Shape{16, 4}, gen);
    std::vector<int32_t> labels(16);
    for (int i = 0; i < 16; ++i) labels[i] = i % 3;
    float first = 0, last = 0;
    for (int step = 0; step < 20; ++step) {
        sgd.zero_grad();
        Tape tape;
        Tensor loss = cross_entropy(model.forward(x), labels);
        tape.backward(loss);
        sgd.step();
        (step == 0 ? first : last) = loss.item();
    }
    std::printf("consumer: loss %.4f -> %.4f\n", first, last);
    return last < first ? 0 : 1;
}
