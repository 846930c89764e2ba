// Claims: each common statement about BatchNorm as an experiment with a verdict.
//
// A Claim states what people say, who said it with what number, the protocol bnlab runs,
// and the rule that decides the verdict, written down before any number is seen. Its run()
// trains and measures through a ClaimContext (options, paired seeds, run directories)
// and returns a ClaimResult: tables, plots, the verdict and why. run_claim() writes
// DIR/<claim>/report.md and DIR/<claim>/summary.json; write_index() writes DIR/index.md.
//
// Conventions every claim follows (../shared/reference/bn-claims.md, "Reproduction pitfalls"):
// - paired seeds: arms of one seed share initial weights and batch order (Trainer does this);
// - learning rates and other choices are made on a validation split held out from the
//   training set; the test set is used only for the final numbers;
// - runs that never reach a target are censored (counted as "not reached"), never dropped;
// - evaluation is in eval mode; the verdict follows the stated rule, whatever it says.
//
// The helpers, one job a file: data.h (a claim's data, loaded once, and the Experiment base
// class), run_config.h (the TrainConfig of a run), sweep.h (grids of runs, divergence, the
// learning-rate choice on validation), probes.h (measurements during training), paired_seeds.h
// (statistics over paired seeds), report.h (tables, cells, figures). claims.h declares the nine
// claims and their verdict rules; each claim is one file.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/collective.h"
#include "data/dataset.h"
#include "experiments/claims/regime.h"
#include "train/trainer.h"

namespace bnlab::claims {

struct ClaimOptions {
    bool quick = false;         // the small profile (<= 2 minutes a claim): tests use it
    int seeds = 0;              // 0: the claim's default for the profile
    std::string dataset;        // "": the claim's default
    std::string data_dir;       // searched first for data sets, then $BNLAB_DATA and the standard folders
    std::string out_dir = "results/claims";
    int threads = 0;            // 0: all cores
    std::string command_line;   // quoted in the reports
    // Continue an interrupted run of the claim in out_dir: the runs that finished there with the
    // same settings are read back instead of trained again, where a claim needs nothing but
    // their metrics (ClaimContext::finished_run: convergence) or train_and_test's record of them
    // (sweep.h: learning-rate, init-scale, placement), or their fit curves and outcomes
    // (regularization).
    bool reuse_finished_runs = false;
    std::function<void(const std::string&)> log;  // progress lines (may be empty)
    // The ranks running this claim together (`mpirun -np N bnlab claims run`), or nullptr for one
    // process. Every rank runs the claim's code; the jobs of ClaimContext::spread are shared out.
    // OUT must be one folder for every rank (a shared file system on a cluster).
    Collective* group = nullptr;
};

// A finished training run, with its trainer kept for measurements after training.
struct TrainedRun {
    std::string name, dir;
    std::vector<MetricsRow> rows;  // evaluated on the run's evaluation set
    RunResult result;
    std::unique_ptr<Trainer> trainer;
};

class ClaimContext {
public:
    ClaimContext(ClaimOptions options, std::string claim_name);
    ~ClaimContext();  // removes a rank's scratch folder, and on rank 0 the folder of job files
    ClaimContext(const ClaimContext&) = delete;
    ClaimContext& operator=(const ClaimContext&) = delete;

    const ClaimOptions& options() const { return options_; }
    bool quick() const { return options_.quick; }
    // options().seeds if given, else the claim's default for the profile.
    int seeds(int quick_default, int full_default) const;
    std::string dataset(const std::string& default_name) const;
    // DIR/<claim>: where the report, plots and runs go. Under a group of ranks, only rank 0's is
    // DIR/<claim>; the others write to a scratch folder of their own (removed at the end), except
    // for the runs of spread() jobs, which every rank writes into runs_dir().
    const std::string& dir() const { return dir_; }
    // DIR/<claim>/runs on every rank: where finished runs are read back from (reuse_finished_runs).
    std::string runs_dir() const { return shared_dir_ + "/runs"; }
    bool is_report_writer() const { return !options_.group || options_.group->rank() == 0; }

    // Runs job(i) for i = 0..n-1 and returns their results, in order, on every rank.
    // In one process the jobs run one after another. Under options().group every rank calls
    // spread with the same n (the claim's code runs on every rank), and the jobs are handed out
    // first come, first served: every rank walks the list in order and takes the next job no rank
    // has taken yet, so a rank that finishes a short job goes on with the next one while another
    // trains a long one. A rank takes job i by creating a file for it in a folder of this claim
    // run under DIR/<claim> (exactly one rank succeeds; see job_files_). Then the results are
    // exchanged, so that every rank goes on with all of them. Results travel as JSON (NaN must be
    // encoded as null; doubles are exact), and in one process they are encoded and decoded too:
    // one process and N ranks compute the same report (a run trains alike on any rank: same
    // seed, same thread count). Jobs must be independent of one another (a sweep's grid points
    // and seeds are). A call returns when its last job is done, on whichever rank: list the jobs
    // longest first (an estimate will do), so that no long job starts last while the other ranks
    // wait for it, and make fewer, larger calls where the claim's logic allows.
    std::vector<nlohmann::json> spread(size_t n, const std::function<nlohmann::json(size_t)>& job);

    // Trains `config` on `train`, evaluating on `eval` every config.eval_every steps; the run
    // directory is DIR/<claim>/runs/<run_name>. `extra` sees every step and row too.
    TrainedRun train(const std::string& run_name, const TrainConfig& config, const Dataset& train, const Dataset& eval,
                     TrainObserver* extra = nullptr);

    void log(const std::string& line) const;

    // With ClaimOptions::reuse_finished_runs: the run DIR/<claim>/runs/<run_name> as a finished
    // run of `config` left it (config.json equal to `config`'s, no run.incomplete marker, its
    // model written), read back from its metrics.csv; nullopt otherwise (train it).
    struct FinishedRun {
        std::vector<MetricsRow> rows;
        bool diverged = false;
    };
    std::optional<FinishedRun> finished_run(const std::string& run_name, const TrainConfig& config) const;

private:
    ClaimOptions options_;
    std::string name_, dir_, shared_dir_;
    std::string scratch_;         // a rank > 0's own folder ("" on rank 0 and in one process)
    bool in_spread_job_ = false;  // a spread() job is training: its runs go to runs_dir()
    // Under a group of 2 or more ranks: DIR/<claim>/spread-XXXXXX, a folder of this claim run
    // (rank 0 makes it under a new name and sends the name to the others), where a rank takes
    // job i of the k-th spread() call by creating the file "k-i" (O_CREAT | O_EXCL). Files left
    // by an interrupted earlier run are in another folder (left behind: safe to delete), so they
    // never block a job. "" in one process.
    std::string job_files_;
    size_t spread_calls_ = 0;  // spread() calls so far: every rank makes the same ones
    bool take_job(size_t call, size_t i) const;  // true: this rank is the first to take job i of the call
    // Under a group with reuse_finished_runs: the runs finished in runs_dir() when the claim
    // started, the only ones finished_run reads back, so that every rank decides alike (a rank
    // must not read back a run another rank has just trained).
    std::optional<std::set<std::string>> finished_at_start_;
};

struct ClaimResult {
    std::string verdict;  // "confirmed", "refuted" or "depends"
    std::string reason;   // one line with the numbers behind the verdict
    std::string key_result;  // the headline number(s), for the index table
    // The regime map (regime.h): the axis the effect was measured along, and where the claim
    // holds on it, for the index's "where it holds" column. Empty: one regime only.
    std::string regime_axis;
    std::string where_it_holds;
    std::string body;     // markdown: tables, plots (paths relative to the report), notes
    std::string data;     // what data was used, e.g. "Fashion-MNIST: 55,000 train / 5,000 validation / 10,000 test"
    std::vector<std::string> deviations;  // where the protocol was not followed, and why

    // A claim mapped along one series: the overall verdict, the axis, where it holds, the reason
    // (the series described, then `point_reasons`, one per point) and the key result
    // (`point_keys` joined).
    void set_regime(const RegimeSeries& series, std::string axis, const std::vector<std::string>& point_reasons,
                    const std::vector<std::string>& point_keys);
};

struct Claim {
    std::string name;       // e.g. "convergence"
    std::string title;      // e.g. "Faster convergence"
    std::string statement;  // the claim as people state it
    std::string source;     // who says so, and the number they report
    std::string protocol;   // what bnlab runs (the full profile), in a few sentences
    std::string rule;       // "confirmed if ...; refuted if ...", fixed before the numbers
    std::function<ClaimResult(ClaimContext&)> run;
};

// Claim::run for an experiment class built from the context: run_experiment<PlacementExperiment>.
template <class Experiment>
ClaimResult run_experiment(ClaimContext& ctx) {
    return Experiment(ctx).run();
}

const std::vector<Claim>& all_claims();
const Claim* find_claim(const std::string& name);

struct ClaimOutcome {
    std::string name, verdict, reason, key_result, report_path;
    double wall_seconds = 0;
};

// Runs one claim and writes DIR/<claim>/report.md and summary.json.
ClaimOutcome run_claim(const Claim& claim, const ClaimOptions& options);
// DIR/index.md: every claim with a summary.json under DIR, in the registry's order.
std::string write_index(const std::string& out_dir);

// An observer that measures the model itself during training (e.g. its accuracy on more data
// at each evaluation): ClaimContext::train() calls on_start with the trainer before the first
// step, when `extra` is one.
struct ModelObserver : TrainObserver {
    virtual void on_start(Trainer& trainer) = 0;
};

}  // namespace bnlab::claims
