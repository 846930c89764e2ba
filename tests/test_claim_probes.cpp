// Probes, the measurements the gradients and covariate-shift claims take during training: exact
// restore, training unaffected, and the math (percentiles, the landscape, the ICS).
#include <catch2/catch.hpp>
#include <cmath>

#include "core/ops.h"
#include "core/tape.h"
#include "experiments/claims/probes.h"
#include "models/zoo.h"
#include "tests/synthetic_data.h"
#include "train/trainer.h"

using namespace bnlab;
using namespace bnlab::claims;

namespace {

const Dataset& quadrant_train() {
    static const Dataset d = test::quadrants(512, 1);
    return d;
}

const InputSpec kQuadrantInput{1, 8, 8, 4};

// Every value of the model's state, bit for bit.
bool same_state(const Module& a, const Module& b) {
    const TensorFile sa = a.state_dict(), sb = b.state_dict();
    if (sa.f32.size() != sb.f32.size() || sa.i64.size() != sb.i64.size()) return false;
    for (const auto& [name, t] : sa.f32)
        if (t.to_vector() != sb.f32.at(name).to_vector()) return false;
    for (const auto& [name, t] : sa.i64)
        if (t.values != sb.i64.at(name).values) return false;
    return true;
}

std::vector<std::vector<float>> gradients(const Module& m) {
    std::vector<std::vector<float>> out;
    for (const auto& [name, p] : m.named_parameters()) out.push_back(p.grad().defined() ? p.grad().to_vector() : std::vector<float>{});
    return out;
}

}  // namespace

TEST_CASE("percentile interpolates like numpy's default", "[claims][probes]") {
    const std::vector<float> v{4, 1, 3, 2};
    CHECK(percentile(v, 15) == Approx(1.45));  // numpy.percentile([1,2,3,4], 15)
    CHECK(percentile(v, 50) == Approx(2.5));
    CHECK(percentile(v, 85) == Approx(3.55));
    CHECK(percentile(v, 0) == 1.0);
    CHECK(percentile(v, 100) == 4.0);
    CHECK(std::isnan(percentile({}, 50)));
    const std::vector<double> qs{15, 50, 85};
    CHECK(percentiles(v, qs) == std::vector<double>{percentile(v, 15), percentile(v, 50), percentile(v, 85)});
}

TEST_CASE("ModelRestorer puts back weights, running statistics, noise generators, gradients and modes", "[claims][probes]") {
    auto model = make_model({.arch = "mlp", .norm = "noisy-bn", .mlp_width = 16, .dropout = 0.3f}, kQuadrantInput, 3);
    auto reference = make_model({.arch = "mlp", .norm = "noisy-bn", .mlp_width = 16, .dropout = 0.3f}, kQuadrantInput, 3);
    const FixedBatch batch = fixed_batch(quadrant_train(), 0, 32, quadrant_train());
    batch_loss_and_gradients(*model, batch);  // gradients and state moved once...
    batch_loss_and_gradients(*reference, batch);  // ...identically in the reference
    const auto grads_before = gradients(*model);
    REQUIRE(same_state(*model, *reference));
    {
        ModelRestorer keep(*model);
        batch_loss_and_gradients(*model, batch);
        for (auto& [name, p] : model->named_parameters()) p.values()[0] += 1.0f;
        model->eval();
    }
    CHECK(model->is_training());
    CHECK(same_state(*model, *reference));
    CHECK(gradients(*model) == grads_before);
    // The generators continue where they were: the next draws match the reference's.
    CHECK(batch_loss_and_gradients(*model, batch) == batch_loss_and_gradients(*reference, batch));
}

namespace {

// Every probe the two claims use, every `every` steps.
struct AllProbes : PeriodicProbe {
    AllProbes(int64_t every, const FixedBatch& batch) : PeriodicProbe(every), batch(batch) {}
    void measure(Trainer& trainer, int64_t) override {
        Sequential& model = trainer.model();
        const std::vector<double> multipliers{0.5, 2.0};
        probe_landscape(model, batch, 0.05, multipliers);
        const std::vector<WeightLayer> layers = weight_layers(model);
        probe_ics(model, batch, 0.05, layers.back().child, true);
        probe_ics(model, batch, 0.05, layers.back().child, false);
        {
            ModelRestorer keep(model);
            model.train();
            input_of(model, batch.images, layers.back().child);
        }
        ++probes;
    }
    const FixedBatch& batch;
    int probes = 0;
};

}  // namespace

TEST_CASE("probes leave training bit-identical", "[claims][probes]") {
    for (const std::string norm : {"bn", "noisy-bn", "none"}) {
        CAPTURE(norm);
        TrainConfig c = test::small_config("mlp", norm);
        c.model.mlp_width = 16;
        c.model.dropout = 0.2f;  // one more random generator to restore
        c.steps = 30;
        c.threads = 1;  // a tiny model: a second thread only adds waiting
        const FixedBatch batch = fixed_batch(quadrant_train(), 100, 32, quadrant_train());
        Trainer plain(c, quadrant_train(), quadrant_train());
        TrainObserver nothing;
        plain.run(nothing);
        Trainer probed(c, quadrant_train(), quadrant_train());
        AllProbes probes(3, batch);
        probes.on_start(probed);
        probed.run(probes);
        CHECK(probes.probes == 10);
        CHECK(same_state(plain.model(), probed.model()));
    }
}

TEST_CASE("the landscape probe agrees with a first-order expansion along the gradient", "[claims][probes]") {
    auto model = make_model({.arch = "mlp", .norm = "bn", .activation = "relu", .mlp_width = 16}, kQuadrantInput, 5);
    const FixedBatch batch = fixed_batch(quadrant_train(), 0, 64, quadrant_train());
    const double lr = 1e-3;
    const std::vector<double> multipliers{0.5, 1.0, 2.0};
    const LandscapeSample s = probe_landscape(*model, batch, lr, multipliers);
    REQUIRE(s.loss_along.size() == 3);
    CHECK(s.layer_grad_norms.size() == weight_layers(*model).size());
    // L(w - eta g) ~ L(w) - eta ||g||^2 for a small eta.
    for (size_t i = 0; i < 3; ++i) {
        const double eta = multipliers[i] * lr;
        CHECK((s.loss - s.loss_along[i]) / (eta * s.grad_norm * s.grad_norm) == Approx(1.0).epsilon(0.05));
        CHECK(s.grad_change[i] > 0);
    }
    CHECK(s.loss_range() == Approx(s.loss_along[0] - s.loss_along[2]));
    CHECK(s.beta_smoothness() > 0);
    CHECK(s.layer_spread() >= 1.0);
}

TEST_CASE("the ICS probe: no earlier layer means no shift, noisy BN's fresh noise shifts", "[claims][probes]") {
    auto model = make_model({.arch = "mlp", .norm = "noisy-bn", .mlp_width = 16}, kQuadrantInput, 9);
    const FixedBatch batch = fixed_batch(quadrant_train(), 0, 64, quadrant_train());
    const std::vector<WeightLayer> layers = weight_layers(*model);
    const IcsSample first = probe_ics(*model, batch, 0.5, layers[0].child, false);
    CHECK(first.distance == 0.0);  // nothing before fc1 moves, and the noise is the same
    CHECK(first.cosine == Approx(1.0));
    CHECK(probe_ics(*model, batch, 0.5, layers[0].child, true).distance > 0.0);  // a new noise draw
    const IcsSample tiny_step = probe_ics(*model, batch, 1e-6, layers[2].child, false);
    CHECK(tiny_step.relative < 1e-3);
    const IcsSample big_step = probe_ics(*model, batch, 1.0, layers[2].child, false);
    CHECK(big_step.relative > tiny_step.relative);
    CHECK_THROWS_WITH(probe_ics(*model, batch, 0.5, 0, false), Catch::Contains("has no weights"));
}
