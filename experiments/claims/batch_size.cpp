// Claim 6: BatchNorm fails at small batches, where GroupNorm and LayerNorm do not (Wu & He 2018),
// mapped along the number of values each BatchNorm statistic averages over.
//
// What breaks BN at a small batch is that its mean and variance are estimated from few values:
// B x H x W per channel after a convolution, only B per unit after a Linear layer. So the regime
// axis is that count, and the families cover it from 2 upward:
//   mlp        BatchNorm1d after Linear layers: B values per unit (2, 4, 8);
//   ghost      the same MLP trained at batch 32 with BN's statistics over ghost batches of g
//              samples (g values per unit): only the statistics shrink, the SGD noise does not;
//   plain-cnn  an 8-layer plain CNN whose last stage runs on 7x7 maps: 49 B per channel;
//   plain-cnn-ranks  that CNN at batch 32 with ghost batches of g: data parallelism on 32/g
//              ranks, per-rank BN (DDP's default) against SyncBN (Wu & He's per-GPU setting);
//   small-cnn  conv16-conv32-FC on 28x28 and 14x14 maps: 196 B or more (ResNet-50 at 2 images
//              per GPU has 2 x 7 x 7 = 98 in its last stage).
// Arms BN, GN (4 groups), LN and none; lr = lr0 * B / 32 (linear scaling, as Wu & He) with each
// arm's lr0 its best at B = 32 on a held-out validation split. BN is evaluated in eval mode
// (running statistics). The measure is the test error at each B and its change from B = 32,
// paired over seeds (a seed fixes the initial weights for every B).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>

#include "core/error.h"
#include "experiments/claims/claims.h"
#include "experiments/claims/data.h"
#include "experiments/claims/regime.h"
#include "experiments/claims/report.h"
#include "experiments/claims/run_config.h"
#include "experiments/claims/sweep.h"

namespace bnlab::claims {

std::pair<std::string, std::string> batch_size_verdict(std::span<const SmallBatchChange> changes) {
    if (changes.empty()) throw Error("batch_size_verdict: no small batch sizes to judge");
    std::vector<std::string> bn_not_worse, norm_worse, numbers;
    bool bn_fails_somewhere = false;
    for (const SmallBatchChange& c : changes) {
        const bool bn_fails = c.bn.mean > 3 && c.bn.clearly_positive();
        bn_fails_somewhere |= bn_fails;
        if (!bn_fails) bn_not_worse.push_back(fmt::format("B={}", c.batch));
        if (!c.norms_measured) {
            numbers.push_back(fmt::format("B={}: BN {}", c.batch, effect_cell(c.bn)));
            continue;
        }
        for (const auto& [name, e] : {std::pair{"GN", c.gn}, std::pair{"LN", c.ln}})
            if (!(e.mean <= 1)) norm_worse.push_back(fmt::format("{} {:+.1f} at B={}", name, e.mean, c.batch));
        numbers.push_back(fmt::format("B={}: BN {}, GN {}, LN {}", c.batch, effect_cell(c.bn), effect_cell(c.gn),
                                      effect_cell(c.ln)));
    }
    const std::string detail =
        fmt::format("test error minus at B=32, points [95% CI]: {}", fmt::join(numbers, "; "));
    if (!bn_fails_somewhere) return {"refuted", "BN is not more than 3 points worse at any small batch; " + detail};
    if (bn_not_worse.empty() && norm_worse.empty()) return {"confirmed", detail};
    std::vector<std::string> failed;
    if (!bn_not_worse.empty())
        failed.push_back(fmt::format("BN is not more than 3 points worse at {}", fmt::join(bn_not_worse, ", ")));
    if (!norm_worse.empty())
        failed.push_back(fmt::format("GN/LN also lose more than 1 point: {}", fmt::join(norm_worse, ", ")));
    return {"depends", fmt::format("only partly ({}); {}", fmt::join(failed, "; "), detail)};
}

namespace {

constexpr int64_t kReferenceBatch = 32;  // Wu & He's reference: 32 images per GPU

// One family of models: the regime points are its small batches (or ghost batch sizes).
struct Family {
    std::string name, description;
    ModelConfig model;
    std::vector<std::string> arms;  // the norms run
    bool ghost = false;             // batch 32 throughout; the small sizes are BN's ghost batches
    DataSizes sizes;
    int64_t epochs = 1;
    std::vector<int64_t> small;     // the small batches, each a regime point
    // Values a BN statistic averages over per sample where that count is smallest (1 after a
    // Linear layer; the last stage's H x W after convolutions), from the input's height/width.
    int64_t (*values_per_sample)(int64_t height, int64_t width);
    std::string where;              // where that smallest statistic is
};

int64_t per_unit(int64_t, int64_t) { return 1; }
int64_t last_stage_of_3(int64_t h, int64_t w) { return (h / 4) * (w / 4); }  // two stride-2 stages
int64_t second_conv(int64_t h, int64_t w) { return (h / 2) * (w / 2); }    // after one 2x2 pool

// Ghost batches are data parallelism: BN over ghost batches of g at batch 32 is what 32/g ranks of
// g images compute with per-rank statistics (BnSync::none), and BN at 32 is SyncBatchNorm over
// them (BnSync::all); tests/test_batch_norm_grouped.cpp and the MPI tests check both.
const char* const kGhostMlp =
    "the same MLP at batch 32, BN statistics over ghost batches of g samples: data parallel on 32/g ranks of g images "
    "with BatchNorm per rank (PyTorch DDP's default) against SyncBatchNorm (the B=32 row)";

std::vector<Family> families(bool quick) {
    const ModelConfig mlp{.arch = "mlp", .activation = "relu", .depth = 4, .width = 100, .gn_groups = 4};
    const std::vector<std::string> all{"bn", "gn", "ln", "none"};
    if (quick) {
        const DataSizes tiny{.train_images = 1000, .validation_images = 500, .test_images = 500};
        return {{"mlp", "ReLU MLP, 4 Linear layers of width 100, norms after the 3 hidden ones", mlp, all, false, tiny, 1,
                 {2}, per_unit, "after each hidden Linear layer"},
                {"ghost", kGhostMlp, mlp, {"bn"}, true, tiny, 1, {2}, per_unit, "after each hidden Linear layer"}};
    }
    const DataSizes mlp_data{.train_images = 20000, .validation_images = 5000};
    const DataSizes cnn_data{.train_images = 10000, .validation_images = 2000};
    return {{"mlp", "ReLU MLP, 4 Linear layers of width 100, norms after the 3 hidden ones", mlp, all, false, mlp_data, 2,
             {2, 4, 8}, per_unit, "after each hidden Linear layer"},
            {"ghost", kGhostMlp, mlp, {"bn"}, true, mlp_data, 2, {2, 4, 8}, per_unit, "after each hidden Linear layer"},
            {"plain-cnn", "plain CNN, 8 weight layers (3x3 convs, 8/16/32 channels), no shortcuts",
             ModelConfig{.arch = "plain-cnn", .depth = 8, .width = 8, .gn_groups = 4}, all, false, cnn_data, 1, {2, 4},
             last_stage_of_3, "in the last stage"},
            {"plain-cnn-ranks",
             "data parallel, the plain CNN at global batch 32 on 32/g ranks of g images: BatchNorm per rank (PyTorch "
             "DDP's default, exactly ghost batches of g) against SyncBatchNorm (statistics over the global batch: the "
             "B=32 row), the setting of Wu & He's per-GPU batch",
             ModelConfig{.arch = "plain-cnn", .depth = 8, .width = 8}, {"bn"}, true, cnn_data, 1, {2, 4},
             last_stage_of_3, "in the last stage"},
            {"small-cnn", "conv16-conv32-FC, norms after both convolutions",
             ModelConfig{.arch = "small-cnn", .gn_groups = 4}, all, false, cnn_data, 1, {2, 4}, second_conv,
             "after the second convolution"}};
}

const std::vector<double> kLr0Grid{0.01, 0.03, 0.1};
const std::vector<double> kQuickLr0Grid{0.03};

using Errors = std::map<std::string, std::map<int64_t, std::vector<double>>>;  // arm -> batch -> per seed

// What one family measured.
struct FamilyResult {
    std::map<std::string, double> lr0;
    Errors error;
    std::map<std::string, std::map<int64_t, int>> diverged;
    std::vector<SmallBatchChange> changes;  // one per small batch
    int64_t values_per_sample = 1;
    Table sweep{{"arm", "lr0 (at B=32)", "validation accuracy"}, {}};
};

// Per seed: error at `batch` minus error at B = 32 (same seed, so the same initial weights).
PairedEffect change(const Errors& errors, const std::string& arm, int64_t batch) {
    return paired_effect(differences(errors.at(arm).at(batch), errors.at(arm).at(kReferenceBatch)));
}

class BatchSizeExperiment {
public:
    explicit BatchSizeExperiment(ClaimContext& ctx) : ctx_(ctx), seeds_(ctx.seeds(1, 5)) {}

    ClaimResult run() {
        ClaimResult result;
        std::vector<RegimeSeries> series;
        std::vector<std::string> data, key;
        std::vector<std::pair<const Family*, FamilyResult>> done;
        const std::vector<Family> all = families(ctx_.quick());
        for (const Family& f : all) {
            const ClaimData d = load_claim_data(ctx_, "fashion-mnist", f.sizes);
            data.push_back(fmt::format("{}: {}", f.name, d.description()));
            FamilyResult r = run_family(f, d);
            RegimeSeries s{f.name, "values per statistic", {}};
            for (const SmallBatchChange& c : r.changes)
                s.points.push_back({double(c.batch * r.values_per_sample), batch_size_verdict(std::span(&c, 1)).first,
                                    fmt::format("BN {} points at B={}", effect_cell(c.bn, 1, 1), c.batch)});
            result.body += family_report(f, r, s);
            key.push_back(fmt::format("{} {}", f.name, effect_cell(r.changes.front().bn, 1, 1)));
            series.push_back(std::move(s));
            done.emplace_back(&f, std::move(r));
        }
        result.verdict = overall_verdict(series);
        result.regime_axis = "values each BN statistic averages over (B per unit after Linear layers, ghost batches, "
                             "B x H x W after convolutions)";
        result.where_it_holds = where_it_holds(series);
        std::vector<std::string> maps;
        for (const RegimeSeries& s : series) maps.push_back(s.family + ": " + describe_series(s));
        result.reason = fmt::format("{}", fmt::join(maps, "; "));
        result.key_result = fmt::format("BN's test-error change at the smallest batch vs B=32 (points): {}",
                                        fmt::join(key, ", "));
        result.data = fmt::format("{}", fmt::join(data, ". "));
        result.body = regime_summary(series, done) + result.body;
        result.deviations = deviations();
        return result;
    }

private:
    // lr = lr0 * B / 32 (linear scaling); evaluated once, at the end. Ghost families train at
    // B = 32 with BN's statistics over `batch` samples.
    TrainConfig config(const Family& f, const ClaimData& d, const std::string& arm, double lr0, int64_t batch,
                       uint64_t seed) const {
        ModelConfig model = f.model;
        model.norm = arm;
        const int64_t train_batch = f.ghost ? kReferenceBatch : batch;
        if (f.ghost && batch != kReferenceBatch) model.batch_norm.ghost_batch_size = batch;
        return run_config(d.train, model,
                          {.lr = lr0 * static_cast<double>(train_batch) / kReferenceBatch, .batch = train_batch,
                           .epochs = f.epochs,
                           .eval_every = f.epochs * (d.train.size() / train_batch),  // steps in all (drop_last)
                           .seed = seed});
    }

    // Test error in percent after training at `batch`; chance error when the run diverged (second).
    std::pair<double, bool> test_error(const Family& f, const ClaimData& d, const FamilyResult& r, const std::string& arm,
                                       int64_t batch, uint64_t seed) {
        const TrainedRun run = ctx_.train(fmt::format("{}-{}-batch{}-seed{}", f.name, arm, batch, seed),
                                          config(f, d, arm, r.lr0.at(arm), batch, seed), d.train, d.test);
        if (run.result.diverged) return {100.0 * (1.0 - 1.0 / static_cast<double>(d.test.class_names.size())), true};
        return {100.0 * (1.0 - run.result.last.test_accuracy), false};
    }

    FamilyResult run_family(const Family& f, const ClaimData& d) {
        FamilyResult r;
        r.values_per_sample = f.values_per_sample(d.train.height, d.train.width);
        ctx_.log(fmt::format("batch-size: {}: lr0 sweep at B=32 on validation (seed 0)", f.name));
        for (const std::string& arm : f.arms) {
            const auto config_at = [&](double lr0) { return config(f, d, arm, lr0, kReferenceBatch, 0); };
            r.lr0[arm] = best_lr_on_validation(ctx_, f.name + "-" + arm, ctx_.quick() ? kQuickLr0Grid : kLr0Grid,
                                               config_at, d, r.sweep);
        }
        std::vector<int64_t> batches = f.small;
        batches.push_back(kReferenceBatch);
        struct Job {
            std::string arm;
            int64_t batch;
            int seed;
        };
        std::vector<Job> jobs;
        for (const std::string& arm : f.arms)
            for (int64_t batch : batches)
                for (int s = 0; s < seeds_; ++s) jobs.push_back({arm, batch, s});
        const std::vector<nlohmann::json> errors = ctx_.spread(jobs.size(), [&](size_t i) {
            const auto [error, diverged] = test_error(f, d, r, jobs[i].arm, jobs[i].batch, static_cast<uint64_t>(jobs[i].seed));
            return nlohmann::json{error, diverged};
        });
        for (size_t i = 0; i < jobs.size(); ++i) {
            r.error[jobs[i].arm][jobs[i].batch].push_back(errors[i].at(0).get<double>());
            if (errors[i].at(1).get<bool>()) ++r.diverged[jobs[i].arm][jobs[i].batch];
        }
        const bool norms = std::count(f.arms.begin(), f.arms.end(), "gn") > 0;
        for (int64_t batch : f.small)
            r.changes.push_back({batch, change(r.error, "bn", batch), norms ? change(r.error, "gn", batch) : PairedEffect{},
                                 norms ? change(r.error, "ln", batch) : PairedEffect{}, norms});
        return r;
    }

    std::string family_report(const Family& f, const FamilyResult& r, const RegimeSeries& s) const {
        const std::string batch_name = f.ghost ? "ghost batch g" : "batch B";
        std::string body = fmt::format(
            "### {}: {}\n\nSGD momentum 0.9, no weight decay, constant learning rate lr0 * B / 32, {} epoch(s) at every "
            "{}, {} paired seed(s); BN evaluated in eval mode (running statistics, momentum 0.1); diverged runs count "
            "as chance error. BN's smallest statistic ({}) averages over {} value(s) per sample, so B = 2 gives {}.\n\n"
            "**{}**.\n\n",
            f.name, f.description, f.epochs, batch_name, seeds_, f.where, r.values_per_sample, 2 * r.values_per_sample,
            describe_series(s));
        std::vector<int64_t> batches = f.small;
        batches.push_back(kReferenceBatch);
        Table errors{{batch_name}, {}}, changes{{batch_name, "values per BN statistic"}, {}};
        for (const std::string& arm : f.arms) {
            errors.header.push_back(fmt::format("{} (lr0 {})", arm, r.lr0.at(arm)));
            changes.header.push_back(arm);
        }
        changes.header.push_back("verdict");
        for (int64_t batch : batches) {
            std::vector<std::string> row{std::to_string(batch)};
            for (const std::string& arm : f.arms) {
                std::string cell = mean_std_ci(r.error.at(arm).at(batch));
                const auto a = r.diverged.find(arm);
                if (a != r.diverged.end() && a->second.contains(batch))
                    cell += fmt::format(" ({} diverged)", a->second.at(batch));
                row.push_back(cell);
            }
            errors.rows.push_back(row);
        }
        for (size_t i = 0; i < f.small.size(); ++i) {
            std::vector<std::string> row{std::to_string(f.small[i]), std::to_string(f.small[i] * r.values_per_sample)};
            for (const std::string& arm : f.arms) row.push_back(effect_cell(change(r.error, arm, f.small[i])));
            row.push_back(s.points[i].verdict);
            changes.rows.push_back(row);
        }
        body += "Test error (%): mean ± std [95% bootstrap CI] over seeds\n\n" + errors.markdown();
        body += "Change in test error from B=32 (points, paired over seeds: mean [95% CI]); BN fails where it is more "
                "than 3 points worse with a CI above 0, GN and LN hold where they are at most 1 point worse\n\n" +
                changes.markdown();
        PlotSpec spec{fmt::format("{}: test error against {}", f.name, f.ghost ? "BN's ghost batch" : "batch size"),
                      batch_name, "test error (%)", {}};
        spec.log_x = true;
        spec.key = "top right";
        std::vector<double> x;
        for (int64_t batch : batches) x.push_back(static_cast<double>(batch));
        for (const std::string& arm : f.arms) {
            std::vector<std::vector<double>> values;
            for (int64_t batch : batches) values.push_back(r.error.at(arm).at(batch));
            spec.curves.push_back(points_curve(arm, x, values));
        }
        body += figure(ctx_.dir(), "test_error_" + f.name, spec, "Lines: mean over seeds; bands: min to max.");
        body += "<details><summary>lr0, chosen on validation at B=32 (seed 0)</summary>\n\n" + r.sweep.markdown() +
                "</details>\n\n";
        return body;
    }

    // The regime table and plot: BN's change against the values per statistic, every family.
    std::string regime_summary(const std::vector<RegimeSeries>& series,
                               const std::vector<std::pair<const Family*, FamilyResult>>& done) const {
        Table t{{"family", "where BN fails (and GN/LN hold)"}, {}};
        for (const RegimeSeries& s : series) t.rows.push_back({s.family, describe_series(s)});
        PlotSpec spec{"BN's test-error change from B=32 against the values per statistic", "values per BN statistic",
                      "change in test error (points)", {}};
        spec.log_x = true;
        spec.key = "top right";
        spec.reference_y = 3.0;
        spec.reference_label = "+3 points (the rule)";
        for (const auto& [f, r] : done) {
            std::vector<double> x;
            std::vector<std::vector<double>> per_point;
            for (const SmallBatchChange& c : r.changes) {
                x.push_back(static_cast<double>(c.batch * r.values_per_sample));
                per_point.push_back(differences(r.error.at("bn").at(c.batch), r.error.at("bn").at(kReferenceBatch)));
            }
            spec.curves.push_back(effect_curve(f->name, x, per_point));
        }
        return "### Where it holds\n\n" + t.markdown() +
               figure(ctx_.dir(), "bn_change_vs_values_per_statistic", spec,
                      "Mean over paired seeds, band: its 95% bootstrap CI.");
    }

    std::vector<std::string> deviations() const {
        std::vector<std::string> d{
            "Training subsets (20,000 images for the MLPs, 10,000 for the CNNs) and 1-2 epochs at every B, to fit the "
            "60-minute budget on 2 cores; the test set is the full 10,000 images.",
            "The protocol fixes no lr0: each arm's is its best of {0.01, 0.03, 0.1} at B=32 on held-out training "
            "images (seed 0), then scaled linearly with B; SGD momentum 0.9 as in Wu & He, no warm-up.",
            "Ghost batches (the ghost and plain-cnn-ranks families) are not in Wu & He's protocol: they separate the "
            "effect of BN's statistics from that of a small SGD batch, since the update still averages 32 samples. "
            "They are its data-parallel arms computed in one process: ghost batches of g at batch 32 equal 32/g ranks "
            "of g images with per-rank BN (DDP's default), and BN at 32 equals SyncBatchNorm over them, "
            "which bnlab's tests check over 2 MPI ranks to float rounding.",
            "Fashion-MNIST only in the default profile; CIFAR-10 with dataset cifar10 (the reference names both)."};
        if (ctx_.quick())
            d.push_back("Quick profile: 1,000 training images, 1 epoch, the MLP and ghost families at B=2 only, lr0 0.03, "
                        "500 test images, 1 seed: a smoke test, not evidence.");
        return d;
    }

    ClaimContext& ctx_;
    const int seeds_;
};

}  // namespace

Claim batch_size_claim() {
    return {
        "batch-size",
        "Small batches: BN fails, GN and LN do not",
        "BatchNorm breaks down at small batch sizes, while GroupNorm and LayerNorm do not depend on the batch.",
        "Wu & He 2018 (ECCV, Group Normalization), ResNet-50 ImageNet top-1 error at 32/16/8/4/2 images per GPU: BN "
        "23.6/23.7/24.8/27.3/34.7, GN 24.1/24.2/24.0/24.2/24.1 (GN 10.6 points better at 2); LN 25.3 at 32. "
        "Learning rate scaled linearly with the batch. Hoffer et al. 2017 (ghost batch normalization): statistics "
        "over small sub-batches of a large batch.",
        "Along the number of values a BN statistic averages over, on Fashion-MNIST: a ReLU MLP with BatchNorm1d (B "
        "values per unit; B in {2, 4, 8}), the same MLP at batch 32 with ghost batches of g in {2, 4, 8}, an 8-layer "
        "plain CNN whose last stage is 7x7 (49 B per channel; B in {2, 4}), the same CNN at batch 32 with ghost batches "
        "of g in {2, 4} (data parallel: per-rank BN on 32/g ranks against SyncBN) and small-cnn (196 B or more; B in {2, 4}); "
        "reference B = 32. lr = lr0 * B / 32 with each arm's lr0 its best at B=32 on validation; SGD momentum 0.9; "
        "5 paired seeds. Arms: BN (evaluated in eval mode), GN (4 groups), LN, none (the ghost families: BN only). "
        "Metric: test error against B.",
        "At each small batch B (a regime point, placed at its values per BN statistic), the change in test error "
        "from B=32, paired over seeds, in points: mean and 95% bootstrap CI. BN fails at B if the mean change exceeds "
        "3 points and the CI lies above 0; GN or LN holds at B if the mean change is at most 1 point. A point is "
        "confirmed if BN fails there while GN and LN hold (ghost batches: if BN fails), refuted if BN does not fail, "
        "\"depends\" otherwise. Overall: confirmed if every point of every family is confirmed, refuted if every one "
        "is refuted, \"depends\" otherwise, with the regimes where it holds named.",
        run_experiment<BatchSizeExperiment>,
    };
}

}  // namespace bnlab::claims
