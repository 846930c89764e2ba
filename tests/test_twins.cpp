// The twin runs (experiments/claims/twins.h, twin_report.h): what bnlab exports for PyTorch
// (initial weights, batch orders, protocol.json), and the report that compares the two
// frameworks' results. experiments/twins/twin.py itself is run by `make claims-twin`, not here.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/safetensors.h"
#include "data/loader.h"
#include "experiments/claims/twin_report.h"
#include "models/zoo.h"
#include "synthetic_data.h"
#include "test_util.h"

using namespace bnlab;
using namespace bnlab::claims;

namespace {

// A ClaimData of synthetic images (1x8x8, 4 classes): 120 training images, so a batch of 60
// has 2 steps per epoch and a 20-step run crosses 10 epochs.
ClaimData synthetic_claim_data() {
    ClaimData d;
    d.dataset = "quadrants";
    d.train = test::quadrants(120, 1);
    d.validation = test::quadrants(50, 2);
    d.test = test::quadrants(50, 3);
    d.full_train_size = 170;
    return d;
}

// The tiny profile's protocol on synthetic data, one run per arm and claim kind kept.
TwinProtocol tiny_protocol(int64_t train_images) {
    TwinProfile profile = twin_profile(true);
    profile.batch_size.arms = {"bn", "gn", "ln", "none"};
    return {.profile = profile, .runs = twin_runs(profile, train_images), .threads = 1, .classes = 4, .command = ""};
}

const TwinRun& find_run(const TwinProtocol& p, const std::string& claim, const std::string& arm, int64_t batch) {
    for (const TwinRun& r : p.runs)
        if (r.claim == claim && r.arm == arm && r.batch == batch && r.seed == 1) return r;
    FAIL("no run " << claim << " " << arm << " " << batch);
    throw;
}

std::vector<int64_t> read_int64_le(const std::filesystem::path& path) {
    const std::vector<uint8_t> bytes = test::read_bytes(path);
    REQUIRE(bytes.size() % 8 == 0);
    std::vector<int64_t> values(bytes.size() / 8);
    for (size_t i = 0; i < values.size(); ++i) {
        uint64_t v = 0;
        for (int b = 7; b >= 0; --b) v = (v << 8) | bytes[8 * i + static_cast<size_t>(b)];
        values[i] = static_cast<int64_t>(v);
    }
    return values;
}

}  // namespace

TEST_CASE("twins: init.safetensors loads back into the bnlab model and gives the same forward output", "[twins]") {
    test::TempDir dir;
    const ClaimData data = synthetic_claim_data();
    const TwinProtocol protocol = tiny_protocol(data.train.size());
    write_twin_inputs(dir.path(), protocol, data);
    const InputSpec input{1, 8, 8, 4};
    Generator gen(9);
    const Tensor x = Tensor::randn({16, 1, 8, 8}, gen);
    for (const std::string arm : {"bn", "gn", "ln", "none"}) {
        const TwinRun& run = find_run(protocol, "batch-size", arm, 32);
        const ModelConfig config = twin_model(protocol.profile, run);
        const auto original = make_model(config, input, run.seed);
        const auto other = make_model(config, input, run.seed + 100);  // different weights until loaded
        original->eval();
        other->eval();
        const TensorFile file = read_safetensors((dir / ("runs/" + run.name + "/init.safetensors")).string());
        // torch.nn.Sequential's names: 0 Flatten, 1 Linear, 2 the norm, 3 ReLU, 4 Linear, ...
        CHECK(file.contains("1.weight"));
        CHECK(file.contains("1.bias") == (arm == "none"));
        if (arm == "bn") {
            CHECK(file.contains("2.running_mean"));
            CHECK(file.i64.count("2.num_batches_tracked") == 1);
        }
        const auto output = [&](Module& m) {
            const Tensor y = m.forward(x);
            return std::vector<float>(y.values().begin(), y.values().end());
        };
        CHECK(output(*other) != output(*original));
        other->load_state_dict(file);
        CHECK(output(*other) == output(*original));
    }
}

TEST_CASE("twins: order.bin is the Trainer's batch order, epoch after epoch", "[twins]") {
    test::TempDir dir;
    const ClaimData data = synthetic_claim_data();
    const TwinProtocol protocol = tiny_protocol(data.train.size());
    write_twin_inputs(dir.path(), protocol, data);
    for (const TwinRun* run : {&find_run(protocol, "convergence", "bn", 60), &find_run(protocol, "batch-size", "gn", 2)}) {
        const std::vector<int64_t> order = read_int64_le(dir / ("runs/" + run->name + "/order.bin"));
        REQUIRE(order.size() == static_cast<size_t>(run->steps * run->batch));
        // The loader the Trainer builds (train/trainer.cpp), batch by batch.
        DataLoader loader(data.train, {.batch_size = run->batch, .drop_last = true, .seed = run->seed});
        std::vector<int64_t> expected;
        for (int64_t epoch = 0; static_cast<int64_t>(expected.size()) < run->steps * run->batch; ++epoch) {
            const std::vector<int64_t> epoch_order = loader.epoch_order(epoch);
            loader.start_epoch(epoch);
            Batch batch;
            for (size_t k = 0; loader.next(batch) && static_cast<int64_t>(expected.size()) < run->steps * run->batch;) {
                CHECK(std::equal(batch.indices.begin(), batch.indices.end(), epoch_order.begin() + static_cast<long>(k)));
                expected.insert(expected.end(), batch.indices.begin(), batch.indices.end());
                k += batch.indices.size();
            }
        }
        CHECK(order == expected);
    }
    // Another seed gives another order (the test above could not pass by accident).
    const TwinRun& run = find_run(protocol, "convergence", "bn", 60);
    CHECK(read_int64_le(dir / ("runs/" + run.name + "/order.bin")) !=
          read_int64_le(dir / ("runs/" + twin_run_name(run.claim, run.depth, run.arm, run.lr, run.batch, 0) + "/order.bin")));
}

namespace {

// Rows every 10 steps to 500: validation accuracy 0 before `reach`, 1 from it on. Smoothed over
// 3 evaluations it reaches any target above 2/3 at reach + 20.
TwinRunResult reaching_at(int64_t reach) {
    TwinRunResult r;
    for (int64_t step = 10; step <= 500; step += 10) {
        MetricsRow row;
        row.step = step;
        row.test_accuracy = step >= reach ? 1.0 : 0.0;
        r.rows.push_back(row);
    }
    r.validation_accuracy = 1.0;
    r.test_accuracy = 1.0;
    r.losses = {2.3, 2.0, 1.8};
    r.steps = 500;
    return r;
}

TwinRunResult ending_at(double validation, double test = 0.9) {
    TwinRunResult r = reaching_at(10);
    r.validation_accuracy = validation;
    r.test_accuracy = test;
    return r;
}

// A hand-made protocol: convergence at depth 2 (lr 0.1, 0.3; 3 seeds), learning-rate at depth 2
// (lr 0.1, 1; 2 seeds), batch-size with all four arms at B = 2 and 32 (3 seeds).
TwinProtocol hand_protocol() {
    TwinProfile p;
    p.convergence = {.depths = {2}, .lrs = {0.1, 0.3}, .seeds = 3, .batch = 60, .steps = 500, .eval_every = 10,
                     .target = 0.8};
    p.learning_rate = {.depths = {2}, .lrs = {0.1, 1}, .seeds = 2, .batch = 60};
    p.batch_size = {.depth = 2, .arms = {"bn", "gn", "ln", "none"}, .batches = {2, 32}, .seeds = 3};
    return {.profile = p, .runs = twin_runs(p, 600), .threads = 1, .classes = 10, .command = "twin-run"};
}

// bnlab's results: every key number chosen by hand (see the checks).
TwinResults hand_bnlab(const TwinProtocol& protocol) {
    TwinResults r{.framework = "bnlab", .threads = 1};
    for (const TwinRun& run : protocol.runs) r.runs[run.name] = ending_at(0.8);
    const auto conv = [](const std::string& arm, double lr, int seed) {
        return twin_run_name("convergence", 2, arm, lr, 60, static_cast<uint64_t>(seed));
    };
    for (int s = 0; s < 3; ++s) {
        r.runs[conv("none", 0.1, s)] = reaching_at(200);  // none picks 0.1 (smoothed: 220 steps)
        r.runs[conv("none", 0.3, s)] = reaching_at(300);
        r.runs[conv("bn", 0.1, s)] = reaching_at(100);
        r.runs[conv("bn", 0.3, s)] = reaching_at(50);  // bn picks 0.3 (70 steps): 220/70 = 3.14x
    }
    const auto lr = [](const std::string& arm, double rate, int seed) {
        return twin_run_name("learning-rate", 2, arm, rate, 60, static_cast<uint64_t>(seed));
    };
    r.runs[lr("none", 1, 1)].diverged = true;  // none: stable up to 0.1, band 1 rate
    r.runs[lr("none", 1, 1)].divergence = "loss above its initial";
    for (int s = 0; s < 2; ++s) r.runs[lr("bn", 1, s)].validation_accuracy = 0.805;  // bn: stable to 1, band 2
    const auto bs = [&](const std::string& arm, int64_t batch, int seed) {
        const double rate = 0.05 * static_cast<double>(batch) / 32;
        return twin_run_name("batch-size", 2, arm, rate, batch, static_cast<uint64_t>(seed));
    };
    for (int s = 0; s < 3; ++s) {
        r.runs[bs("bn", 2, s)].test_accuracy = 0.70;  // +15 points: fails
        r.runs[bs("bn", 32, s)].test_accuracy = 0.85;
        for (const std::string arm : {"gn", "ln"}) {
            r.runs[bs(arm, 2, s)].test_accuracy = 0.845;  // +0.5 points: holds
            r.runs[bs(arm, 32, s)].test_accuracy = 0.85;
        }
    }
    return r;
}

// PyTorch's: the same, except where a verdict is meant to flip.
TwinResults hand_pytorch(const TwinProtocol& protocol) {
    TwinResults r = hand_bnlab(protocol);
    r.framework = "pytorch";
    const auto conv = [](const std::string& arm, double lr, int seed) {
        return twin_run_name("convergence", 2, arm, lr, 60, static_cast<uint64_t>(seed));
    };
    r.runs[conv("bn", 0.3, 0)] = reaching_at(300);  // bn now picks 0.1: 220/170 = 1.29x, refuted
    for (int s = 0; s < 3; ++s) r.runs[conv("bn", 0.1, s)] = reaching_at(150);
    // bn at lr 1 ends at chance in seed 0: stable only to 0.1, band 1 rate -> refuted
    r.runs[twin_run_name("learning-rate", 2, "bn", 1, 60, 0)].validation_accuracy = 0.12;
    // LN at B=2 hits a non-finite loss in seed 2: chance error (90%), so LN does not hold
    TwinRunResult& ln = r.runs[twin_run_name("batch-size", 2, "ln", 0.05 * 2 / 32, 2, 2)];
    ln.test_accuracy = NAN;
    ln.validation_accuracy = NAN;
    ln.diverged = true;
    // Step 1 differs by 1e-6 relative in one run; its losses part at step 3.
    r.runs[conv("none", 0.1, 0)].losses = {2.3 * (1 + 1e-6), 2.0, 1.9};
    return r;
}

const TwinRow& row_of(const TwinComparison& c, const std::string& claim, const std::string& regime) {
    for (const TwinRow& r : c.rows)
        if (r.claim == claim && r.bnlab.regime == regime) return r;
    FAIL("no row " << claim << ", " << regime);
    throw;
}

}  // namespace

TEST_CASE("twins: the report computes the key numbers and marks agreement", "[twins]") {
    const TwinProtocol protocol = hand_protocol();
    TwinResults bnlab = hand_bnlab(protocol), pytorch = hand_pytorch(protocol);
    // One run evaluated at step 2, while the losses still agree: validation losses 3e-6 apart.
    const std::string evaluated = twin_run_name("learning-rate", 2, "none", 0.1, 60, 0);
    bnlab.runs[evaluated].rows.front().step = pytorch.runs[evaluated].rows.front().step = 2;
    bnlab.runs[evaluated].rows.front().test_loss = 1.5;
    pytorch.runs[evaluated].rows.front().test_loss = 1.5 * (1 + 3e-6);
    const TwinComparison c = compare_twins(protocol, bnlab, pytorch);
    for (const TwinRunComparison& r : c.runs)
        CHECK(std::isnan(r.first_evaluation_difference) == (r.run != evaluated));  // others: first row at step 10

    const TwinRow& conv = row_of(c, "convergence", "depth 2");
    CHECK(conv.bnlab.value == Approx(220.0 / 70.0));
    CHECK(conv.bnlab.verdict == "confirmed");
    CHECK(conv.bnlab.key.find("lr none 0.1, bn 0.3") != std::string::npos);
    CHECK(conv.pytorch.value == Approx(220.0 / 170.0));
    CHECK(conv.pytorch.verdict == "refuted");
    CHECK(conv.pytorch.key.find("lr none 0.1, bn 0.1") != std::string::npos);
    CHECK_FALSE(conv.agree());
    CHECK_FALSE(row_of(c, "convergence", "overall").agree());

    const TwinRow& lr = row_of(c, "learning-rate", "depth 2");
    CHECK(lr.bnlab.value == 1);  // bn's largest stable rate one grid step above none's
    CHECK(lr.bnlab.verdict == "confirmed");
    CHECK(lr.bnlab.key == "largest stable lr: none 0.1, bn 1; band 1 vs 2 rates");
    CHECK(lr.pytorch.value == 0);
    CHECK(lr.pytorch.verdict == "refuted");
    CHECK_FALSE(lr.agree());

    const TwinRow& bn = row_of(c, "batch-size", "bn, B=2");
    CHECK(bn.bnlab.value == Approx(15.0));
    CHECK(bn.bnlab.verdict == "fails");
    CHECK(bn.agree());
    const TwinRow& gn = row_of(c, "batch-size", "gn, B=2");
    CHECK(gn.bnlab.value == Approx(0.5));
    CHECK(gn.bnlab.verdict == "holds");
    CHECK(gn.agree());
    const TwinRow& ln = row_of(c, "batch-size", "ln, B=2");
    CHECK(ln.pytorch.value == Approx((90.0 + 15.5 + 15.5) / 3 - 15.0));  // the non-finite seed at chance error
    CHECK(ln.pytorch.verdict == "does not hold");
    CHECK_FALSE(ln.agree());
    CHECK(row_of(c, "batch-size", "none, B=2").bnlab.verdict == "no rule");
    CHECK(row_of(c, "batch-size", "overall").bnlab.verdict == "confirmed");
    CHECK(row_of(c, "batch-size", "overall").pytorch.verdict == "depends");

    // The first-step check and where the losses part.
    const TwinRunComparison* worst = c.worst_first_step();
    REQUIRE(worst != nullptr);
    CHECK(worst->run == twin_run_name("convergence", 2, "none", 0.1, 60, 0));
    CHECK(worst->first_loss_difference == Approx(1e-6).epsilon(1e-3));
    CHECK(worst->separation == 3);
    CHECK(worst->rounding_until == 2);
    CHECK(c.worst_second_step()->second_loss_difference == 0);  // every run's step 2 is 2.0 in both
    CHECK(parting_step({2.3, 2.0, 1.8}, {2.3, 2.0, 1.8}, 0.01) == -1);
    CHECK(parting_step({2.3, 2.0}, {2.3}, 0.01) == 2);  // one stopped on a non-finite loss
    CHECK(parting_step({2.3, 2.0, 1.8}, {2.3, 2.0 * (1 + 2e-5), 1.8}, 1e-5) == 2);
    CHECK(parting_step({2.3, NAN}, {2.3, 2.0}, 1e-5) == 2);

    const std::string md = twin_report_markdown(protocol, bnlab, pytorch, c, "report");
    CHECK(md.find("| depth 2 | 3.14x") != std::string::npos);
    CHECK(md.find("**no**") != std::string::npos);
    CHECK(md.find("- **convergence, depth 2**: bnlab says confirmed, PyTorch says refuted.") != std::string::npos);
    CHECK(md.find("**1.0e-06**") != std::string::npos);
    CHECK(md.find("The first evaluation of the 1 runs evaluated while their losses still agreed") != std::string::npos);
    CHECK(md.find("to 3.0e-06 relative (worst)") != std::string::npos);
}

TEST_CASE("twins: result files round-trip through JSON, NaN as null", "[twins]") {
    const TwinProtocol protocol = hand_protocol();
    const TwinResults original = hand_pytorch(protocol);
    const nlohmann::json j = nlohmann::json::parse(to_json(original).dump());
    const TwinResults back = read_twin_results(j, "pytorch.json");
    CHECK(back.framework == "pytorch");
    REQUIRE(back.runs.size() == original.runs.size());
    const std::string ln = twin_run_name("batch-size", 2, "ln", 0.05 * 2 / 32, 2, 2);
    CHECK(std::isnan(back.runs.at(ln).test_accuracy));
    CHECK(back.runs.at(ln).diverged);
    const std::string conv = twin_run_name("convergence", 2, "none", 0.1, 60, 0);
    CHECK(back.runs.at(conv).losses == original.runs.at(conv).losses);
    CHECK(back.runs.at(conv).rows.size() == original.runs.at(conv).rows.size());
    CHECK(back.runs.at(conv).rows.back().test_accuracy == 1.0);
    CHECK_THROWS_WITH(read_twin_results(nlohmann::json::object(), "x.json"), Catch::Contains("x.json"));
}

TEST_CASE("twins: bnlab claims twin-run --tiny writes the protocol, inits and orders, twin-report reads them",
          "[twins][cli]") {
    test::TempDir dir;
    const auto out = dir / "twins";
    const test::CommandResult run = test::run_bnlab("claims twin-run --tiny --out '" + out.string() + "'");
    INFO(run.output);
    REQUIRE(run.exit_code == 0);
    const nlohmann::json protocol = read_json_file((out / "protocol.json").string());
    const TwinProtocol p = read_twin_protocol(protocol, "protocol.json");
    CHECK(p.runs.size() == protocol.at("runs").size());
    CHECK(p.runs.size() == 24);  // convergence 2 arms x 2 rates x 2 seeds, learning-rate the same, batch-size 2x2x2
    CHECK(protocol.at("data").at("validation").at("count") == 500);
    for (const nlohmann::json& r : protocol.at("runs")) {
        CHECK(std::filesystem::file_size(out / r.at("init").get<std::string>()) > 0);
        CHECK(std::filesystem::file_size(out / r.at("order").get<std::string>()) ==
              8 * r.at("steps").get<uint64_t>() * r.at("batch").get<uint64_t>());
        CHECK(r.at("layers").front() == "Flatten");
    }
    // A second run into the same folder is refused without --force.
    CHECK(test::run_bnlab("claims twin-run --tiny --out '" + out.string() + "'").exit_code == 2);

    // bnlab against itself: every verdict agrees and step 1 matches exactly.
    nlohmann::json bnlab = read_json_file((out / "bnlab.json").string());
    CHECK(bnlab.at("runs").size() == p.runs.size());
    bnlab["framework"] = "pytorch";
    {
        std::ofstream f(out / "pytorch.json");
        f << bnlab.dump();
    }
    const auto md = dir / "twins.md";
    const test::CommandResult report =
        test::run_bnlab("claims twin-report '" + out.string() + "' --out '" + md.string() + "'");
    INFO(report.output);
    REQUIRE(report.exit_code == 0);
    const std::vector<uint8_t> bytes = test::read_bytes(md);
    const std::string text(bytes.begin(), bytes.end());
    CHECK(text.find("**7 of 7 verdicts agree.**") != std::string::npos);
    CHECK(text.find("**0.0e+00**") != std::string::npos);
    CHECK(test::run_bnlab("claims twin-report '" + (dir / "missing").string() + "'").exit_code == 2);
}
