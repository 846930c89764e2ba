// Twin runs: three claims (convergence, learning-rate, batch-size) run the same way in bnlab and
// in PyTorch, so that a reader need not trust a from-scratch framework.
//
// A reduced profile (TwinProfile: ReLU MLPs of width 100 on a Fashion-MNIST subset) expands
// into runs (TwinRun). For each, write_twin_inputs exports what PyTorch needs to repeat it
// exactly:
//   DIR/protocol.json               every run (model as torch.nn layers, lr, momentum, batch,
//                                   steps, evaluation schedule, seed, divergence rule), the
//                                   data split and its normalization constants
//   DIR/runs/<run>/init.safetensors the initial weights under torch.nn.Sequential's
//                                   state_dict names ("1.weight", "2.running_mean", ...)
//   DIR/runs/<run>/order.bin        int64 little-endian: the training-set index of every sample
//                                   of every step, in order (steps x batch values)
// run_bnlab_twins trains every run in bnlab from those files (DIR/bnlab.json);
// experiments/twins/twin.py trains them in PyTorch (DIR/pytorch.json, the same format);
// twin_report.h reads both and computes every key number with the same code.
//
// Runs of one seed share their initial weights across arms (models/zoo.h, "Pairing") and their
// batch order across arms and learning rates (data/loader.h).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "experiments/claims/data.h"
#include "experiments/claims/sweep.h"
#include "train/config.h"
#include "train/metrics.h"

namespace bnlab::claims {

// Convergence: plain SGD; per depth and arm, every rate of `lrs` on every seed, evaluated on
// validation every `eval_every` steps. Each framework picks an arm's rate on its own seed-0 runs
// (fewest smoothed steps to `target`; ties: higher final validation accuracy), then compares
// the arms' steps to target over the seeds at their rates.
struct ConvergenceTwin {
    std::vector<int> depths{2, 8};
    std::vector<double> lrs{0.03, 0.1, 0.3};
    int seeds = 3;
    int64_t batch = 60, steps = 1500, eval_every = 50;
    double target = 0.85;  // validation accuracy, averaged over the last `smoothing` evaluations
    int smoothing = 3;
};

// Learning-rate: plain SGD, one epoch, every rate of `lrs` per depth, arm and seed. A run fails
// if it diverges (non-finite loss, or `divergence`'s loss rule) or ends at <= `chance`
// validation accuracy.
struct LearningRateTwin {
    std::vector<int> depths{2, 8};
    std::vector<double> lrs{0.01, 0.03, 0.1, 0.3, 1, 3, 10};
    int seeds = 2;
    int64_t batch = 60;
    DivergenceRule divergence{.after_steps = 100, .window = 20};
    double chance = 0.15;
    double band_tolerance = 0.01;  // the band: rates within 1 point of the best mean validation accuracy
};

// Batch-size: SGD with momentum, one epoch at each batch B, lr = lr0 * B / reference_batch.
struct BatchSizeTwin {
    int depth = 4;
    std::vector<std::string> arms{"bn", "gn", "ln", "none"};
    std::vector<int64_t> batches{2, 32};  // the small batches, then the reference
    int64_t reference_batch = 32;
    double lr0 = 0.05, momentum = 0.9;
    int seeds = 3;
};

struct TwinProfile {
    DataSizes data{.train_images = 10000, .validation_images = 2000};
    int64_t width = 100;  // hidden features of every MLP
    int gn_groups = 4;
    ConvergenceTwin convergence;
    LearningRateTwin learning_rate;
    BatchSizeTwin batch_size;
};

// The profile the brief fixes; tiny: 1 depth, 2 rates, 2 seeds, a few steps on 600 images
// (tests and smoke checks: minutes become seconds).
TwinProfile twin_profile(bool tiny);

// One training run, in both frameworks.
struct TwinRun {
    std::string name;   // e.g. "convergence-d2-bn-lr0.1-b60-s0": its folder under DIR/runs
    std::string claim;  // convergence | learning-rate | batch-size
    std::string arm;    // the norm: none | bn | gn | ln
    int depth = 0;      // Linear layers of the MLP
    double lr = 0, momentum = 0;
    int64_t batch = 0, steps = 0, eval_every = 0;
    uint64_t seed = 0;
    std::optional<DivergenceRule> divergence;  // the loss rule (learning-rate only)
};

std::string twin_run_name(const std::string& claim, int depth, const std::string& arm, double lr, int64_t batch,
                          uint64_t seed);
// Every run of the profile; `train_images` (after the hold-out) sets one epoch's steps.
std::vector<TwinRun> twin_runs(const TwinProfile& profile, int64_t train_images);

// `flatten-fc<width>-[norm]-relu-...-fc` with `depth` Linear layers.
ModelConfig twin_model(const TwinProfile& profile, const TwinRun& run);
TrainConfig twin_train_config(const TwinProfile& profile, const TwinRun& run, const Dataset& train, int threads);

// The training-set index of every sample of every step of `run`, as the Trainer's DataLoader
// (drop_last, seeded by run.seed) visits them: steps x batch values.
std::vector<int64_t> twin_order(const Dataset& train, const TwinRun& run);

// What protocol.json holds and what the report reads back.
struct TwinProtocol {
    TwinProfile profile;
    std::vector<TwinRun> runs;
    int threads = 1;
    int64_t classes = 10;  // of the data set: a run with a non-finite loss counts at chance, 1 - 1/classes error
    std::string command;   // the twin-run command line, for the report
};
TwinProtocol read_twin_protocol(const nlohmann::json& protocol, const std::string& source);

// Writes DIR/protocol.json, and DIR/runs/<run>/init.safetensors and order.bin for every run.
void write_twin_inputs(const std::string& dir, const TwinProtocol& protocol, const ClaimData& data);

// One run's results in either framework (bnlab.json and pytorch.json, per run).
struct TwinRunResult {
    std::vector<MetricsRow> rows;  // per evaluation: step, test_loss/test_accuracy = validation's
    std::vector<double> losses;    // the training loss of every step, in order
    double validation_accuracy = NAN, test_accuracy = NAN;  // at the end; NaN: non-finite loss
    bool diverged = false;
    std::string divergence;  // why, "" if it did not
    int64_t steps = 0;       // steps completed
    double wall_seconds = 0;
};

struct TwinResults {
    std::string framework, version;  // "bnlab" | "pytorch", and the PyTorch version
    int threads = 1;
    std::string command;
    double wall_seconds = 0;
    std::map<std::string, double> claim_seconds;  // wall time per claim
    std::map<std::string, TwinRunResult> runs;    // by run name
};
nlohmann::json to_json(const TwinResults& results);
TwinResults read_twin_results(const nlohmann::json& results, const std::string& source);

// Trains every run of `protocol` in bnlab, starting from DIR/runs/<run>/init.safetensors;
// `log` gets a line per run.
TwinResults run_bnlab_twins(const std::string& dir, const TwinProtocol& protocol, const ClaimData& data,
                            const std::function<void(const std::string&)>& log);

// Everything `bnlab claims twin-run` does: loads the data (load_claim_data), writes the inputs
// (write_twin_inputs) into out_dir, trains every run in bnlab and writes out_dir/bnlab.json.
struct TwinOptions {
    std::string out_dir;
    bool tiny = false;     // twin_profile(true): a smoke test
    int threads = 1;       // both frameworks run this many
    std::string data_dir;  // searched first for Fashion-MNIST
    std::string command;   // the command line, for the report
    std::function<void(const std::string&)> log;
};
void run_twins(const TwinOptions& options);

// The JSON file at `path`, parsed; Error naming the path when it is missing or not JSON.
nlohmann::json read_json_file(const std::string& path);

}  // namespace bnlab::claims
