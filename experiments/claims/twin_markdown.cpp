// twin_report_markdown (twin_report.h): results/claims/twins.md.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "experiments/claims/report.h"
#include "experiments/claims/twin_report.h"
#include "experiments/stats.h"

namespace bnlab::claims {

namespace {

constexpr double kFirstStepBar = 1e-4;  // relative: the twins are the same run
const std::vector<std::string> kClaims{"convergence", "learning-rate", "batch-size"};

// How a set of twin runs parted: from the step-1 check to the end of training.
struct Separation {
    int runs = 0, never = 0;      // runs compared; runs whose losses never parted by 1%
    double worst_first = 0;       // worst step-1 relative difference
    double median_rounding = NAN; // median number of leading steps within 1e-5 relative
    int64_t fewest_rounding = -1;
    std::string fewest_run;       // the run that left rounding first
    int evaluations = 0;                // runs with a first evaluation while still within rounding
    double worst_evaluation = 0;        // worst relative difference of their first validation loss
    double median_step = NAN;     // median step at which the losses parted by 1% (over those that did)
    int64_t first_step = -1, last_step = -1;
    double median_validation_gap = NAN, max_validation_gap = NAN;  // |bnlab - PyTorch| final validation (points)
};

Separation separation_of(const TwinComparison& c, const std::set<std::string>& names) {
    Separation s;
    std::vector<double> steps, gaps, rounding;
    for (const TwinRunComparison& r : c.runs) {
        if (!names.count(r.run)) continue;
        ++s.runs;
        s.worst_first = std::max(s.worst_first, std::isnan(r.first_loss_difference) ? INFINITY : r.first_loss_difference);
        rounding.push_back(static_cast<double>(r.rounding_until));
        if (s.fewest_rounding < 0 || r.rounding_until < s.fewest_rounding) {
            s.fewest_rounding = r.rounding_until;
            s.fewest_run = r.run;
        }
        if (!std::isnan(r.first_evaluation_difference)) {
            ++s.evaluations;
            s.worst_evaluation = std::max(s.worst_evaluation, r.first_evaluation_difference);
        }
        if (r.separation < 0) ++s.never;
        else {
            steps.push_back(static_cast<double>(r.separation));
            s.first_step = s.first_step < 0 ? r.separation : std::min(s.first_step, r.separation);
            s.last_step = std::max(s.last_step, r.separation);
        }
        if (!std::isnan(r.validation_difference)) gaps.push_back(std::abs(r.validation_difference));
    }
    s.median_rounding = median_of(rounding);
    s.median_step = median_of(steps);
    s.median_validation_gap = median_of(gaps);
    if (!gaps.empty()) s.max_validation_gap = *std::max_element(gaps.begin(), gaps.end());
    return s;
}

std::set<std::string> claim_runs(const TwinProtocol& p, const std::string& claim) {
    std::set<std::string> names;
    for (const TwinRun& r : p.runs)
        if (r.claim == claim) names.insert(r.name);
    return names;
}

std::string separation_text(const Separation& s) {
    std::string text = fmt::format("{} runs: step-1 losses agree to {:.1e} relative (worst); the losses stay within "
                                   "1e-5 relative (float rounding) for the first {} steps (median; fewest {})",
                                   s.runs, s.worst_first, number(s.median_rounding, 0), s.fewest_rounding);
    if (!std::isnan(s.median_step))
        text += fmt::format("; {} of them differ by more than 1% from step {} on (median over those; range {}..{})",
                            s.runs - s.never, number(s.median_step, 0), s.first_step, s.last_step);
    if (!std::isnan(s.median_validation_gap))
        text += fmt::format("; final validation accuracies differ by {:.2f} points (median; at most {:.2f})",
                            s.median_validation_gap, s.max_validation_gap);
    return text;
}

std::string agree_cell(const TwinRow& row) {
    if (row.bnlab.verdict == "no rule") return "n/a";
    return row.agree() ? "yes" : "**no**";
}

std::string verdict_tables(const std::vector<TwinRow>& rows) {
    std::string out;
    for (const std::string& claim : kClaims) {
        Table t{{"regime", "bnlab key number", "PyTorch key number", "bnlab verdict", "PyTorch verdict", "agree?"}, {}};
        for (const TwinRow& r : rows)
            if (r.claim == claim)
                t.rows.push_back({r.bnlab.regime, r.bnlab.key, r.pytorch.key, r.bnlab.verdict, r.pytorch.verdict,
                                  agree_cell(r)});
        out += fmt::format("### {}\n\n", claim) + t.markdown();
    }
    return out;
}

std::string disagreements(const TwinProtocol& p, const TwinComparison& c) {
    std::string out;
    for (const TwinRow& r : c.rows) {
        if (r.agree()) continue;
        const std::set<std::string> names = r.bnlab.runs.empty()
                                                 ? claim_runs(p, r.claim)
                                                 : std::set<std::string>(r.bnlab.runs.begin(), r.bnlab.runs.end());
        out += fmt::format("- **{}, {}**: bnlab says {}, PyTorch says {}.\n  - bnlab: {}.\n  - PyTorch: {}.\n"
                           "  - The runs behind it: {}.\n",
                           r.claim, r.bnlab.regime, r.bnlab.verdict, r.pytorch.verdict, r.bnlab.detail,
                           r.pytorch.detail, separation_text(separation_of(c, names)));
    }
    if (out.empty()) return "None: every verdict agrees.\n\n";
    return out + "\n";
}

// What the disagreements mean, given the step checks: the same computation whose runs later
// differ as two seeds would, or (a check failed) a difference to look for first.
std::string disagreement_reading(bool same_computation) {
    if (same_computation)
        return "Every run behind a disagreement agrees with its twin at steps 1 and 2 to float rounding (above), so "
               "the frameworks compute the same thing; its runs part later, when training has amplified rounding "
               "differences, and end as far apart as runs of different seeds. A verdict flips when a number it "
               "reads sits near the rule's threshold (a band edge 1 point below the best, a speed-up of 2): a "
               "difference between two draws, not between the frameworks.\n\n";
    return "**The step checks above fail: the frameworks do not compute the same thing.** Find that difference "
           "before reading any disagreement.\n\n";
}

std::string separation_table(const TwinProtocol& p, const TwinComparison& c) {
    Table t{{"claim", "runs", "step-1 loss: worst relative difference",
             "steps within 1e-5 relative: median (fewest)", "losses part by > 1% at step: median [min, max]",
             "runs that never part", "final validation accuracy: |bnlab - PyTorch| median (max), points"},
            {}};
    for (const std::string& claim : kClaims) {
        const Separation s = separation_of(c, claim_runs(p, claim));
        t.rows.push_back({claim, std::to_string(s.runs), fmt::format("{:.1e}", s.worst_first),
                          fmt::format("{} ({})", number(s.median_rounding, 0), s.fewest_rounding),
                          std::isnan(s.median_step) ? "n/a"
                                                    : fmt::format("{} [{}, {}]", number(s.median_step, 0), s.first_step,
                                                                  s.last_step),
                          std::to_string(s.never),
                          fmt::format("{} ({})", number(s.median_validation_gap, 2), number(s.max_validation_gap, 2))});
    }
    return t.markdown();
}

std::string list_text(const std::vector<double>& v) {
    std::vector<std::string> out;
    for (double x : v) out.push_back(grid_label(x));
    return fmt::format("{}", fmt::join(out, ", "));
}

std::string protocol_text(const TwinProtocol& p) {
    const TwinProfile& f = p.profile;
    const ConvergenceTwin& c = f.convergence;
    const LearningRateTwin& l = f.learning_rate;
    const BatchSizeTwin& b = f.batch_size;
    return fmt::format(
        "- Data: Fashion-MNIST, the first {} training images; {} validation images held out from the tail of the "
        "training split (every choice and every \"validation\" number); {} test images (0: all). Both frameworks "
        "normalize with the constants the claims' Trainer uses: the data set's standard per-channel mean/std "
        "(data/catalog.h; `subset` keeps the full split's constants, it does not recompute them on the subset), "
        "written into protocol.json.\n"
        "- Models: ReLU MLPs of width {}, `flatten-fc{}-[norm]-relu-...-fc` with depth = the number of Linear "
        "layers; a Linear feeding a norm has no bias; GroupNorm with {} groups. Initial weights: bnlab's "
        "(PyTorch's default init), exported per run and loaded by both.\n"
        "- convergence: depths {}; arms none, bn; plain SGD, batch {}, {} steps, validation every {} steps; every "
        "rate of {{{}}} on {} seeds; each framework picks each arm's rate on its own seed-0 runs (fewest steps to "
        "{:.0f}% smoothed over {} evaluations; ties: higher final validation accuracy) and compares the arms at "
        "their rates over the seeds. Key number: median over seeds of steps(none)/steps(bn) [95% bootstrap CI]; "
        "confirmed if >= 2 with the CI above 1.\n"
        "- learning-rate: depths {}; arms none, bn; plain SGD, batch {}, one epoch; rates {{{}}}; {} seeds. A run "
        "fails on a non-finite loss, a mean loss over the last {} steps above the step-1 loss from step {} on, or "
        "<= {:.0f}% final validation accuracy. Key number: the largest rate at which no seed failed, per arm, and "
        "the band of rates within {:.0f} point of the best mean validation accuracy (learning_rate_verdict).\n"
        "- batch-size: MLP depth {}; arms {}; B in {{{}}}; one epoch; SGD momentum {}, lr = {} * B / {}; {} seeds; "
        "BN evaluated in eval mode. Key number: test error at the small B minus at B={} (points, mean over seeds "
        "[95% bootstrap CI]); BN fails if > 3 points with the CI above 0, GN/LN hold if <= 1 point "
        "(batch_size_verdict).\n"
        "- Every run of a seed starts from the same weights in every arm and sees the same batches "
        "(runs/<run>/order.bin); both frameworks run {} thread(s) and run every step (no early stop), so the key "
        "numbers are read off complete curves.\n",
        f.data.train_images, f.data.validation_images, f.data.test_images, f.width, f.width, f.gn_groups,
        fmt::join(c.depths, ", "), c.batch, c.steps, c.eval_every, list_text(c.lrs), c.seeds, 100 * c.target,
        c.smoothing, fmt::join(l.depths, ", "), l.batch, list_text(l.lrs), l.seeds, l.divergence.window,
        l.divergence.after_steps, 100 * l.chance, 100 * l.band_tolerance, b.depth, fmt::join(b.arms, ", "),
        fmt::join(b.batches, ", "), b.momentum, b.lr0, b.reference_batch, b.seeds, b.reference_batch, p.threads);
}

std::string wall_time_table(const TwinResults& bnlab, const TwinResults& pytorch) {
    Table t{{"framework"}, {}};
    for (const std::string& claim : kClaims) t.header.push_back(claim + " (s)");
    t.header.push_back("total (s, with data loading and evaluation)");
    for (const TwinResults* r : {&bnlab, &pytorch}) {
        std::vector<std::string> row{r->framework + (r->version.empty() ? "" : " " + r->version)};
        for (const std::string& claim : kClaims) {
            const auto it = r->claim_seconds.find(claim);
            row.push_back(it == r->claim_seconds.end() ? "n/a" : number(it->second, 1));
        }
        row.push_back(number(r->wall_seconds, 1));
        t.rows.push_back(row);
    }
    return t.markdown();
}

}  // namespace

std::string twin_report_markdown(const TwinProtocol& p, const TwinResults& bnlab, const TwinResults& pytorch,
                                 const TwinComparison& c, const std::string& report_command) {
    const TwinRunComparison* worst = c.worst_first_step();
    const double worst_first = worst ? worst->first_loss_difference : NAN;
    const bool same_runs = worst_first <= kFirstStepBar;
    int agree = 0, ruled = 0;
    for (const TwinRow& r : c.rows)
        if (r.bnlab.verdict != "no rule") {
            ++ruled;
            agree += r.agree();
        }
    std::string md = "# bnlab and PyTorch: twin runs of three claims\n\n";
    md += fmt::format(
        "The claims lab (experiments/claims/) is only as good as the framework under it. Here PyTorch runs the "
        "same protocol as bnlab for three claims: the same data split and normalization, the same initial weights "
        "(exported by bnlab), the same batches in the same order, the same optimizer and evaluation schedule. Each "
        "framework's results go through the same C++ code (experiments/claims/twin_report.cpp) to the key numbers "
        "and verdicts. **{} of {} verdicts agree.** This is a reduced profile that fits minutes, not the claims' "
        "full protocols (results/claims/index.md).\n\n",
        agree, ruled);
    md += "## Are they the same runs? The first step\n\n";
    md += fmt::format(
        "Step 1 of every run (same weights, same batch, before any update) gives the same training loss in both "
        "frameworks: the worst relative difference over the {} runs is **{:.1e}** ({}), {} the bar of {:.0e}.\n\n",
        c.runs.size(), worst_first, worst ? worst->run : "no run", same_runs ? "within" : "**above**", kFirstStepBar);
    std::set<std::string> all;
    for (const TwinRunComparison& r : c.runs) all.insert(r.run);
    const Separation overall = separation_of(c, all);
    const TwinRunComparison* second = c.worst_second_step();
    md += fmt::format(
        "Step 2 comes after one update of every weight: a formula that differed (BatchNorm's backward, the loss "
        "gradient, the SGD update) would show there. The losses of step 2 agree to **{:.1e}** relative (worst: "
        "{}). After that, training amplifies the last-bit differences of the two frameworks' arithmetic, "
        "gradually: the losses stay within 1e-5 relative for the first {} steps (median over runs; fewest {}: {}). ",
        second ? second->second_loss_difference : NAN, second ? second->run : "no run",
        number(overall.median_rounding, 0), overall.fewest_rounding, overall.fewest_run);
    md += overall.evaluations == 0
              ? "No run was evaluated while its losses still agreed that closely.\n\n"
              : fmt::format("The first evaluation of the {} runs evaluated while their losses still agreed (eval mode: "
                            "BatchNorm with its running statistics) gives the same validation loss to {:.1e} relative "
                            "(worst).\n\n",
                            overall.evaluations, overall.worst_evaluation);
    md += "## Verdicts\n\n" + verdict_tables(c.rows);
    const bool same_computation = same_runs && second && second->second_loss_difference <= kFirstStepBar;
    md += "## Disagreements\n\n" + disagreements(p, c);
    if (agree < ruled) md += disagreement_reading(same_computation);
    md += "## Where the curves separate\n\n";
    md += "bnlab sums in a different order than PyTorch (its own OpenBLAS/BLIS sgemm blocking, its fused BatchNorm "
          "reductions, its loss reduction), so the twins' losses differ in the last bits from the first step on. "
          "SGD amplifies such differences: after some hundreds of steps the two runs are different draws of the "
          "same random process (as two runs on different thread counts would be), not the same trajectory. That "
          "is expected and is why verdicts rest on several seeds; a verdict near its threshold can still flip.\n\n";
    md += separation_table(p, c);
    md += "## The numbers behind each row\n\n";
    for (const TwinRow& r : c.rows)
        md += fmt::format("- {}, {}:\n  - bnlab: {}\n  - PyTorch: {}\n", r.claim, r.bnlab.regime, r.bnlab.detail,
                          r.pytorch.detail);
    md += "\n## How it was run\n\n" + protocol_text(p);
    md += fmt::format("\n`make claims-twin` runs, after `make build`:\n\n```\n{}\n{}\n{}\n```\n\n", p.command,
                      pytorch.command, report_command);
    md += fmt::format("Wall time ({} thread(s) each; the frameworks ran one after the other):\n\n", p.threads) +
          wall_time_table(bnlab, pytorch);
    return md;
}

}  // namespace bnlab::claims
