// operator<< for Tensor: PyTorch's layout plus the shape, one number format per tensor, big
// tensors elided.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>

#include "core/tensor.h"

using namespace bnlab;

namespace {
std::string printed(const Tensor& t) {
    std::ostringstream os;
    os << t;
    return os.str();
}
}  // namespace

TEST_CASE("printing a tensor: nested rows, aligned columns, the shape", "[tensor][print]") {
    CHECK(printed(Tensor::from_vector({2, 2}, {0.5f, -1.25f, 2.0f, 0.0f})) ==
          "tensor([[ 0.5000, -1.2500],\n"
          "        [ 2.0000,  0.0000]], shape=(2,2))");
    CHECK(printed(Tensor::from_vector({3}, {1, 2, 3})) == "tensor([1., 2., 3.], shape=(3))");
    CHECK(printed(Tensor::scalar(1.5f)) == "tensor(1.5000, shape=())");
    // A blank line between the blocks of a 3-D tensor, as PyTorch prints them.
    CHECK(printed(Tensor::from_vector({2, 1, 2}, {0, 1, 2, 3})) ==
          "tensor([[[0., 1.]],\n"
          "\n"
          "        [[2., 3.]]], shape=(2,1,2))");
    CHECK(printed(Tensor::from_vector({2}, {1e-5f, 1.0f})) == "tensor([1.0000e-05, 1.0000e+00], shape=(2))");
    const float inf = std::numeric_limits<float>::infinity();
    CHECK(printed(Tensor::from_vector({3}, {std::nanf(""), inf, -1.5f})) == "tensor([    nan,     inf, -1.5000], shape=(3))");
    CHECK(printed(Tensor::empty({0, 3})) == "tensor([], shape=(0,3))");
    CHECK(printed(Tensor()) == "tensor(undefined)");
    Tensor w = Tensor::ones({2});
    w.set_requires_grad();
    CHECK(printed(w) == "tensor([1., 1.], shape=(2), requires_grad)");
}

TEST_CASE("printing a big tensor shows its corners, a long row wraps at 80 columns", "[tensor][print]") {
    std::vector<float> v(40 * 40);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
    const std::string big = printed(Tensor::from_vector({40, 40}, v));
    INFO(big);
    CHECK(big.rfind("tensor([[   0.,    1.,    2.,   ...,   37.,   38.,   39.],\n", 0) == 0);
    CHECK(big.find("        ...,\n") != std::string::npos);
    CHECK(big.find("1599.]], shape=(40,40))") != std::string::npos);
    CHECK(big.find(" 120.,") == std::string::npos);  // rows 3..36 are elided
    CHECK(std::count(big.begin(), big.end(), '\n') == 6);  // 3 rows, "...", 3 rows

    const std::string row = printed(Tensor::full({30}, 0.25f));
    INFO(row);
    std::istringstream lines(row);
    int count = 0;
    for (std::string line; std::getline(lines, line); ++count) CHECK(line.size() <= 80);
    CHECK(count == 4);  // 30 values, 9 to a line
    CHECK(std::count(row.begin(), row.end(), '5') == 30);
}
