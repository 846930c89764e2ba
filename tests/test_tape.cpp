// The tape's semantics: what is recorded, when, how gradients accumulate, what is freed.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "core/ops.h"
#include "core/tape.h"

using namespace bnlab;

TEST_CASE("no tape, no recording: inference pays nothing", "[tape]") {
    Tensor w = Tensor::from_vector({2}, {1, 2});
    w.set_requires_grad();
    Tensor y = w * w;
    CHECK_FALSE(y.requires_grad());
    CHECK(y.is_leaf());
    CHECK(Tape::active() == nullptr);
    CHECK_THROWS_WITH(backward(sum(y)), Catch::Contains("no active tape"));
}

TEST_CASE("only ops with an input that requires grad are recorded", "[tape]") {
    Tensor w = Tensor::from_vector({2}, {1, 2});
    w.set_requires_grad();
    Tensor c = Tensor::from_vector({2}, {3, 4});  // a constant
    Tape tape;
    Tensor k = c * c;  // constants only: not recorded
    CHECK(tape.size() == 0);
    CHECK_FALSE(k.requires_grad());
    Tensor y = sum(w * k);
    CHECK(tape.size() == 2);
    CHECK(std::string(tape.op_names()[0]) == "mul");
    CHECK(std::string(tape.op_names()[1]) == "sum");
    CHECK(y.requires_grad());
    CHECK_FALSE(y.is_leaf());
}

TEST_CASE("backward computes d loss / d leaf, chain rule included", "[tape]") {
    // loss = sum((w * x + b)^2) with w = 3, x = [1, 2], b = 1: d/dw = sum(2 (w x + b) x) = 2*(4*1 + 7*2) = 36
    Tensor w = Tensor::scalar(3.0f), b = Tensor::scalar(1.0f);
    w.set_requires_grad();
    b.set_requires_grad();
    Tensor x = Tensor::from_vector({2}, {1, 2});
    Tape tape;
    Tensor h = w * x + b;
    Tensor loss = sum(h * h);
    tape.backward(loss);
    CHECK(w.grad().item() == Approx(36.0f));
    CHECK(b.grad().item() == Approx(2 * (4 + 7)));
    CHECK_FALSE(x.grad().defined());  // x does not require grad
}

TEST_CASE("gradients accumulate across backward calls until zeroed", "[tape]") {
    Tensor w = Tensor::from_vector({3}, {1, 2, 3});
    w.set_requires_grad();
    for (int i = 0; i < 2; ++i) {
        Tape tape;
        tape.backward(sum(w * 2.0f));
    }
    CHECK(w.grad().to_vector() == std::vector<float>{4, 4, 4});
    w.zero_grad();
    CHECK_FALSE(w.grad().defined());
    {
        Tape tape;
        tape.backward(sum(w * 2.0f));
    }
    CHECK(w.grad().to_vector() == std::vector<float>{2, 2, 2});
}

TEST_CASE("a tensor used twice receives both gradients", "[tape]") {
    Tensor x = Tensor::scalar(3.0f);
    x.set_requires_grad();
    Tape tape;
    Tensor y = x * x + x;  // dy/dx = 2x + 1 = 7
    tape.backward(y);
    CHECK(x.grad().item() == 7.0f);
}

TEST_CASE("backward frees saved activations and intermediate gradients", "[tape]") {
    Tensor w = Tensor::from_vector({4}, {1, -2, 3, -4});
    w.set_requires_grad();
    Tape tape;
    Tensor h = relu(w);
    Tensor loss = sum(h);
    CHECK(h.use_count() > 1);  // the tape holds it (entry output, saved for relu's backward)
    tape.backward(loss);
    CHECK(h.use_count() == 1);  // only our handle is left
    CHECK(tape.size() == 0);
    CHECK(tape.released());
    CHECK_FALSE(h.grad().defined());  // intermediate gradients are not kept
    CHECK(w.grad().to_vector() == std::vector<float>{1, 0, 1, 0});
}

TEST_CASE("backward twice over a released tape is a clear error", "[tape]") {
    Tensor w = Tensor::scalar(2.0f);
    w.set_requires_grad();
    Tape tape;
    Tensor loss = w * w;
    tape.backward(loss);
    CHECK_THROWS_AS(tape.backward(loss), TapeError);
    CHECK_THROWS_WITH(tape.backward(loss), Catch::Contains("already consumed"));
    CHECK_THROWS_WITH(w * w, Catch::Contains("recording onto a tape that backward() already consumed"));
}

TEST_CASE("backward checks its arguments", "[tape]") {
    Tensor w = Tensor::from_vector({2}, {1, 2});
    w.set_requires_grad();
    Tape tape;
    Tensor y = w * 2.0f;
    CHECK_THROWS_WITH(tape.backward(y), Catch::Contains("must have one element, got shape (2)"));
    CHECK_THROWS_WITH(tape.backward(y, Tensor::ones({3})), Catch::Contains("grad_output (3) does not match output (2)"));
    CHECK_THROWS_WITH(tape.backward(Tensor::scalar(1.0f)), Catch::Contains("does not require grad"));
    CHECK_THROWS_WITH(y.set_requires_grad(false), Catch::Contains("only leaf tensors"));
    tape.backward(y, Tensor::from_vector({2}, {1, 10}));
    CHECK(w.grad().to_vector() == std::vector<float>{2, 20});
}

TEST_CASE("tapes nest and NoTape pauses recording", "[tape]") {
    Tensor w = Tensor::scalar(2.0f);
    w.set_requires_grad();
    Tape outer;
    {
        NoTape pause;
        CHECK(Tape::active() == nullptr);
        CHECK_FALSE((w * w).requires_grad());
    }
    CHECK(Tape::active() == &outer);
    {
        Tape inner;
        CHECK(Tape::active() == &inner);
        Tensor y = w * 3.0f;
        CHECK(inner.size() == 1);
        inner.backward(y);
    }
    CHECK(Tape::active() == &outer);
    CHECK(outer.size() == 0);
    CHECK(w.grad().item() == 3.0f);
}

TEST_CASE("an unused branch gets no gradient and costs no backward work", "[tape]") {
    Tensor a = Tensor::scalar(1.0f), b = Tensor::scalar(2.0f);
    a.set_requires_grad();
    b.set_requires_grad();
    Tape tape;
    Tensor used = a * 5.0f;
    Tensor unused = b * 7.0f;
    tape.backward(used);
    CHECK(a.grad().item() == 5.0f);
    CHECK_FALSE(b.grad().defined());
    CHECK(unused.use_count() == 1);
}
