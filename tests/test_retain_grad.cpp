// retain_grad(): keeping an intermediate gradient (d loss / d activation) after backward, as
// PyTorch's Tensor.retain_grad() does. Without it backward frees every op output's gradient.
#include <catch2/catch.hpp>

#include "core/ops.h"
#include "core/tape.h"

using namespace bnlab;

TEST_CASE("retain_grad keeps an op output's gradient after backward, others are freed", "[tape][retain_grad]") {
    Tensor x = Tensor::from_vector({4}, {-1, 2, -3, 4});
    x.set_requires_grad();
    Tape tape;
    Tensor h = x * 2.0f;  // (-2, 4, -6, 8)
    Tensor r = relu(h);
    Tensor loss = sum(r * r);  // d loss / d r = 2 r = (0, 8, 0, 16)
    h.retain_grad();
    loss.retain_grad();
    CHECK(h.retains_grad());
    CHECK_FALSE(r.retains_grad());
    tape.backward(loss);
    REQUIRE(h.grad().defined());
    CHECK(h.grad().to_vector() == std::vector<float>{0, 8, 0, 16});  // relu passes 2r where h > 0
    CHECK(loss.grad().item() == 1.0f);                                 // the seed
    CHECK_FALSE(r.grad().defined());                                   // not asked for: freed
    CHECK(x.grad().to_vector() == std::vector<float>{0, 16, 0, 32});   // leaves as always
}

TEST_CASE("retain_grad: a retained gradient sums every path, and a leaf is unaffected", "[tape][retain_grad]") {
    Tensor x = Tensor::from_vector({2}, {1, 3});
    x.set_requires_grad();
    CHECK_FALSE(x.retain_grad().retains_grad());  // a leaf keeps its gradient anyway
    Tape tape;
    Tensor y = x + 1.0f;                   // (2, 4)
    y.retain_grad();
    Tensor loss = sum(y * y + y * 3.0f);   // d loss / d y = 2y + 3, from two uses of y
    tape.backward(loss);
    CHECK(y.grad().to_vector() == std::vector<float>{7, 11});
    CHECK(x.grad().to_vector() == std::vector<float>{7, 11});
    // zero_grad drops a retained gradient like any other.
    y.zero_grad();
    CHECK_FALSE(y.grad().defined());
}
