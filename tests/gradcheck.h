// Finite-difference gradient checking for tests.
//
// For f: inputs -> y, pick a fixed random projection r (same shape as y) and compare, for
// every element of every input that requires grad,
//   analytic:  d(sum r*y)/dx from the tape  (backward seeded with grad_output = r)
//   numeric:   (L(x + eps) - L(x - eps)) / (2 eps),  L = sum r*y accumulated in double
// with |analytic - numeric| <= atol + rtol * max(|analytic|, |numeric|).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace bnlab {
class Generator;
}

namespace bnlab::testing {

struct GradCheckOptions {
    double eps = 1e-3;
    double rtol = 2e-2;
    double atol = 2e-3;
};

struct GradCheckResult {
    bool ok = true;
    int64_t checked = 0;   // elements compared
    std::string report;    // the first mismatches, "input 1 [7]: analytic 0.31 numeric 0.12"
};

using TensorFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Checks d/d(inputs[i]) for every input with requires_grad() set.
GradCheckResult gradcheck(const TensorFn& f, const std::vector<Tensor>& inputs, GradCheckOptions options = {});

// A leaf to check: uniform values in [low, high), requires_grad set.
Tensor param(const Shape& shape, Generator& gen, float low = -1.0f, float high = 1.0f);

// Catch2 CHECKs that the check compared something and passed (the report is printed if not).
void require_ok(const GradCheckResult& result);

}  // namespace bnlab::testing
