#include "tests/gradcheck.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>

#include "core/random.h"
#include "core/tape.h"

namespace bnlab::testing {

namespace {
double projected(const Tensor& y, const Tensor& r) {
    double total = 0.0;
    for (int64_t i = 0; i < y.numel(); ++i) total += static_cast<double>(y.data()[i]) * r.data()[i];
    return total;
}
}  // namespace

GradCheckResult gradcheck(const TensorFn& f, const std::vector<Tensor>& inputs, GradCheckOptions options) {
    GradCheckResult result;
    std::ostringstream report;
    Tensor r;
    {
        for (Tensor t : inputs)
            if (t.defined()) t.zero_grad();
        Tape tape;
        Tensor y = f(inputs);
        Generator gen(1234);
        r = Tensor::uniform(y.shape(), gen, -1.0f, 1.0f);
        tape.backward(y, r);
    }
    int mismatches = 0;
    for (size_t k = 0; k < inputs.size(); ++k) {
        Tensor x = inputs[k];
        if (!x.defined() || !x.requires_grad()) continue;
        const Tensor analytic = x.grad();
        for (int64_t i = 0; i < x.numel(); ++i) {
            float& v = x.data()[i];
            const float saved = v;
            v = static_cast<float>(saved + options.eps);
            const double plus = projected(f(inputs), r);
            v = static_cast<float>(saved - options.eps);
            const double minus = projected(f(inputs), r);
            v = saved;
            const double numeric = (plus - minus) / (2.0 * options.eps);
            const double a = analytic.defined() ? analytic.data()[i] : 0.0;
            ++result.checked;
            if (!(std::fabs(a - numeric) <= options.atol + options.rtol * std::max(std::fabs(a), std::fabs(numeric)))) {
                result.ok = false;
                if (mismatches++ < 5)
                    report << "input " << k << " [" << i << "]: analytic " << a << " numeric " << numeric << "\n";
            }
        }
    }
    if (mismatches > 5) report << "... " << mismatches << " mismatches in all\n";
    result.report = report.str();
    return result;
}

Tensor param(const Shape& shape, Generator& gen, float low, float high) {
    Tensor t = Tensor::uniform(shape, gen, low, high);
    t.set_requires_grad();
    return t;
}

void require_ok(const GradCheckResult& result) {
    INFO(result.report);
    CHECK(result.checked > 0);
    CHECK(result.ok);
}

}  // namespace bnlab::testing
