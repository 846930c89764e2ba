#include "experiments/claims/twins.h"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/regular_file.h"
#include "core/safetensors.h"
#include "data/loader.h"
#include "experiments/claims/records.h"
#include "experiments/claims/run_config.h"
#include "train/evaluate.h"
#include "train/trainer.h"

namespace bnlab::claims {

// JSON forms of the profile (protocol.json carries it, so the report reads the profile the runs
// were made with, tiny or not).
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(DataSizes, train_images, validation_images, test_images)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(DivergenceRule, after_steps, window)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ConvergenceTwin, depths, lrs, seeds, batch, steps, eval_every, target, smoothing)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(LearningRateTwin, depths, lrs, seeds, batch, divergence, chance, band_tolerance)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(BatchSizeTwin, depth, arms, batches, reference_batch, lr0, momentum, seeds)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(TwinProfile, data, width, gn_groups, convergence, learning_rate, batch_size)

namespace {

constexpr int64_t kMaxJsonBytes = int64_t{1} << 30;

std::string run_folder(const std::string& dir, const TwinRun& run) { return dir + "/runs/" + run.name; }
std::string init_file(const TwinRun& run) { return "runs/" + run.name + "/init.safetensors"; }
std::string order_file(const TwinRun& run) { return "runs/" + run.name + "/order.bin"; }

// NaN (what JSON writes as null) and back.

nlohmann::json run_json(const TwinRun& run) {
    return {{"name", run.name},   {"claim", run.claim}, {"arm", run.arm},
            {"depth", run.depth}, {"lr", run.lr},       {"momentum", run.momentum},
            {"batch", run.batch}, {"steps", run.steps}, {"eval_every", run.eval_every},
            {"seed", run.seed},
            {"divergence", run.divergence ? nlohmann::json(*run.divergence) : nlohmann::json(nullptr)}};
}

TwinRun run_from_json(const nlohmann::json& j) {
    TwinRun run{.name = j.at("name"), .claim = j.at("claim"), .arm = j.at("arm"), .depth = j.at("depth"),
                .lr = j.at("lr"), .momentum = j.at("momentum"), .batch = j.at("batch"), .steps = j.at("steps"),
                .eval_every = j.at("eval_every"), .seed = j.at("seed")};
    if (!j.at("divergence").is_null()) run.divergence = j.at("divergence").get<DivergenceRule>();
    return run;
}

// The first `count` images from `first` in the training (or test) split, for twin.py.
nlohmann::json split_json(int64_t first, int64_t count) { return {{"first", first}, {"count", count}}; }

nlohmann::json data_json(const ClaimData& data) {
    const int64_t validation_first = data.full_train_size - data.validation.size();
    return {{"dataset", data.dataset},
            {"folder", data.folder},
            {"train_files", data.train.files},
            {"test_files", data.test.files},
            {"full_train_size", data.full_train_size},
            {"classes", data.train.class_names.size()},
            {"train", split_json(0, data.train.size())},
            {"validation", split_json(validation_first, data.validation.size())},
            {"test", split_json(0, data.test.size())},
            {"mean", data.train.mean},
            {"std", data.train.std},
            {"normalization", "x = float32(pixel) * float32(1 / (255 std)) + float32(-mean / std), the constants "
                              "computed in double from the float32 mean and std (data/loader.h)"}};
}

InputSpec input_of(const Dataset& data) {
    return {data.channels, data.height, data.width, static_cast<int64_t>(data.class_names.size())};
}

void write_int64_le(const std::string& path, const std::vector<int64_t>& values) {
    write_atomically(path, [&](std::ostream& out) {
        for (const int64_t v : values) {
            const auto u = static_cast<uint64_t>(v);
            char bytes[8];
            for (int b = 0; b < 8; ++b) bytes[b] = static_cast<char>((u >> (8 * b)) & 0xff);
            out.write(bytes, 8);
        }
    });
}

// Records every step's loss and every evaluation; with a rule, watches the loss for divergence
// (LossWatch) without stopping the run: a twin run always runs its steps, unless a loss is not
// finite (the Trainer stops those).
class TwinRecorder : public TrainObserver {
public:
    explicit TwinRecorder(std::optional<DivergenceRule> rule) : watch_(rule) {}
    void on_step(const StepProgress& p) override {
        losses.push_back(p.loss);
        watch_.on_step(p);
    }
    void on_row(const MetricsRow& r) override { rows.push_back(r); }
    const LossWatch& watch() const { return watch_; }

    std::vector<double> losses;
    std::vector<MetricsRow> rows;

private:
    LossWatch watch_;
};

TwinRunResult train_twin(const std::string& dir, const TwinProtocol& protocol, const TwinRun& run,
                         const ClaimData& data) {
    Trainer trainer(twin_train_config(protocol.profile, run, data.train, protocol.threads), data.train,
                    data.validation);
    trainer.model().load_state_dict(read_safetensors(dir + "/" + init_file(run)));
    TwinRecorder recorder(run.divergence);
    const RunResult result = trainer.run(recorder);
    TwinRunResult out;
    out.losses = recorder.losses;
    out.rows = recorder.rows;
    out.steps = result.steps;
    out.wall_seconds = result.wall_seconds;
    if (result.diverged) {
        out.rows.pop_back();  // the Trainer's row that records the divergence: no evaluation
        out.diverged = true;
        out.divergence = fmt::format("non-finite loss at step {}", result.diverged_at);
        return out;
    }
    out.validation_accuracy = result.last.test_accuracy;  // the Trainer's "test" split is validation
    out.test_accuracy = evaluate(trainer.model(), data.test, 0, 500, data.train.mean, data.train.std).accuracy;
    if (const auto at = recorder.watch().diverged_at()) {
        out.diverged = true;
        out.divergence = fmt::format("loss above its initial {:.3f} from step {} on", recorder.watch().initial_loss(), *at);
    }
    return out;
}

}  // namespace

TwinProfile twin_profile(bool tiny) {
    TwinProfile p;
    if (!tiny) return p;
    p.data = {.train_images = 600, .validation_images = 500, .test_images = 500};
    p.convergence = {.depths = {2}, .lrs = {0.1, 0.3}, .seeds = 2, .batch = 60, .steps = 20, .eval_every = 5,
                     .target = 0.5};
    p.learning_rate = {.depths = {2}, .lrs = {0.1, 10}, .seeds = 2, .batch = 60,
                       .divergence = {.after_steps = 5, .window = 3}};
    p.batch_size = {.depth = 2, .arms = {"bn", "gn"}, .batches = {2, 32}, .seeds = 2};
    return p;
}

std::string twin_run_name(const std::string& claim, int depth, const std::string& arm, double lr, int64_t batch,
                          uint64_t seed) {
    return fmt::format("{}-d{}-{}-lr{}-b{}-s{}", claim, depth, arm, grid_label(lr), batch, seed);
}

std::vector<TwinRun> twin_runs(const TwinProfile& profile, int64_t train_images) {
    std::vector<TwinRun> runs;
    const auto add = [&](const std::string& claim, const std::string& arm, int depth, double lr, double momentum,
                         int64_t batch, int64_t steps, int64_t eval_every, int seed,
                         std::optional<DivergenceRule> divergence) {
        const auto s = static_cast<uint64_t>(seed);
        runs.push_back({twin_run_name(claim, depth, arm, lr, batch, s), claim, arm, depth, lr, momentum, batch, steps,
                        eval_every, s, divergence});
    };
    const ConvergenceTwin& c = profile.convergence;
    for (int depth : c.depths)
        for (const char* arm : {"none", "bn"})
            for (double lr : c.lrs)
                for (int seed = 0; seed < c.seeds; ++seed)
                    add("convergence", arm, depth, lr, 0.0, c.batch, c.steps, c.eval_every, seed, std::nullopt);
    const LearningRateTwin& l = profile.learning_rate;
    const int64_t epoch = train_images / l.batch;  // one epoch, evaluated at its end
    for (int depth : l.depths)
        for (const char* arm : {"none", "bn"})
            for (double lr : l.lrs)
                for (int seed = 0; seed < l.seeds; ++seed)
                    add("learning-rate", arm, depth, lr, 0.0, l.batch, epoch, epoch, seed, l.divergence);
    const BatchSizeTwin& b = profile.batch_size;
    for (const std::string& arm : b.arms)
        for (int64_t batch : b.batches)
            for (int seed = 0; seed < b.seeds; ++seed) {
                const double lr = b.lr0 * static_cast<double>(batch) / static_cast<double>(b.reference_batch);
                const int64_t steps = train_images / batch;
                add("batch-size", arm, b.depth, lr, b.momentum, batch, steps, steps, seed, std::nullopt);
            }
    return runs;
}

ModelConfig twin_model(const TwinProfile& profile, const TwinRun& run) {
    return {.arch = "mlp", .norm = run.arm, .activation = "relu", .depth = run.depth, .width = profile.width,
            .gn_groups = profile.gn_groups};
}

TrainConfig twin_train_config(const TwinProfile& profile, const TwinRun& run, const Dataset& train, int threads) {
    return run_config(train, twin_model(profile, run),
                      {.lr = run.lr, .momentum = run.momentum, .batch = run.batch, .steps = run.steps,
                       .eval_every = run.eval_every, .seed = run.seed, .threads = threads});
}

std::vector<int64_t> twin_order(const Dataset& train, const TwinRun& run) {
    // The Trainer's loader options (train/trainer.cpp); epoch e of a run is its step / steps per epoch.
    const DataLoader loader(train, {.batch_size = run.batch, .drop_last = true, .prefetch = false, .seed = run.seed});
    const int64_t per_epoch = loader.batches_per_epoch();
    if (per_epoch == 0) throw Error(fmt::format("{}: batch {} is larger than the {} training images", run.name, run.batch, train.size()));
    std::vector<int64_t> order, epoch_order;
    order.reserve(static_cast<size_t>(run.steps * run.batch));
    for (int64_t step = 0; step < run.steps; ++step) {
        if (step % per_epoch == 0) epoch_order = loader.epoch_order(step / per_epoch);
        const auto first = epoch_order.begin() + (step % per_epoch) * run.batch;
        order.insert(order.end(), first, first + run.batch);
    }
    return order;
}

TwinProtocol read_twin_protocol(const nlohmann::json& protocol, const std::string& source) {
    try {
        TwinProtocol p{.profile = protocol.at("profile").get<TwinProfile>(),
                       .runs = {},
                       .threads = protocol.at("threads"),
                       .classes = protocol.at("data").at("classes"),
                       .command = protocol.value("command", "")};
        for (const nlohmann::json& run : protocol.at("runs")) p.runs.push_back(run_from_json(run));
        return p;
    } catch (const nlohmann::json::exception& e) {
        throw Error(fmt::format("{}: not a twin protocol: {}", source, e.what()));
    }
}

void write_twin_inputs(const std::string& dir, const TwinProtocol& protocol, const ClaimData& data) {
    nlohmann::json runs = nlohmann::json::array();
    for (const TwinRun& run : protocol.runs) {
        std::filesystem::create_directories(run_folder(dir, run));
        const auto model = make_model(twin_model(protocol.profile, run), input_of(data.train), run.seed);
        write_safetensors(dir + "/" + init_file(run), model->state_dict());
        write_int64_le(dir + "/" + order_file(run), twin_order(data.train, run));
        nlohmann::json j = run_json(run);
        j["model_spec"] = resolved_spec(twin_model(protocol.profile, run));
        // torch.nn constructors, in order: bnlab's layers describe themselves as PyTorch's.
        std::vector<std::string> layers;
        for (size_t i = 0; i < model->size(); ++i) layers.push_back((*model)[i].describe());
        j["layers"] = layers;
        j["init"] = init_file(run);
        j["order"] = order_file(run);
        runs.push_back(std::move(j));
    }
    const nlohmann::json out{{"profile", protocol.profile}, {"threads", protocol.threads},
                             {"command", protocol.command}, {"data", data_json(data)},
                             {"runs", std::move(runs)}};
    write_text_atomically(dir + "/protocol.json", out.dump(1) + "\n");
}

nlohmann::json to_json(const TwinResults& results) {
    nlohmann::json runs = nlohmann::json::object();
    for (const auto& [name, r] : results.runs) {
        nlohmann::json rows = nlohmann::json::array();
        for (const MetricsRow& row : r.rows)
            rows.push_back({{"step", row.step}, {"validation_loss", row.test_loss}, {"validation_accuracy", row.test_accuracy}});
        runs[name] = {{"rows", std::move(rows)},
                      {"losses", r.losses},
                      {"validation_accuracy", r.validation_accuracy},
                      {"test_accuracy", r.test_accuracy},
                      {"diverged", r.diverged},
                      {"divergence", r.divergence},
                      {"steps", r.steps},
                      {"wall_seconds", r.wall_seconds}};
    }
    return {{"framework", results.framework}, {"version", results.version},
            {"threads", results.threads},     {"command", results.command},
            {"wall_seconds", results.wall_seconds}, {"claim_seconds", results.claim_seconds},
            {"runs", std::move(runs)}};
}

TwinResults read_twin_results(const nlohmann::json& j, const std::string& source) {
    try {
        TwinResults results{.framework = j.at("framework"), .version = j.value("version", ""),
                            .threads = j.at("threads"), .command = j.value("command", ""),
                            .wall_seconds = j.at("wall_seconds"),
                            .claim_seconds = j.at("claim_seconds").get<std::map<std::string, double>>(),
                            .runs = {}};
        for (const auto& [name, r] : j.at("runs").items()) {
            TwinRunResult run;
            for (const nlohmann::json& row : r.at("rows")) {
                MetricsRow m;
                m.step = row.at("step");
                m.test_loss = number_from_json(row.at("validation_loss"));
                m.test_accuracy = number_from_json(row.at("validation_accuracy"));
                run.rows.push_back(m);
            }
            for (const nlohmann::json& loss : r.at("losses")) run.losses.push_back(number_from_json(loss));
            run.validation_accuracy = number_from_json(r.at("validation_accuracy"));
            run.test_accuracy = number_from_json(r.at("test_accuracy"));
            run.diverged = r.at("diverged");
            run.divergence = r.at("divergence");
            run.steps = r.at("steps");
            run.wall_seconds = r.at("wall_seconds");
            results.runs[name] = std::move(run);
        }
        return results;
    } catch (const nlohmann::json::exception& e) {
        throw Error(fmt::format("{}: not a twin result file: {}", source, e.what()));
    }
}

TwinResults run_bnlab_twins(const std::string& dir, const TwinProtocol& protocol, const ClaimData& data,
                            const std::function<void(const std::string&)>& log) {
    TwinResults results{.framework = "bnlab", .threads = protocol.threads, .command = protocol.command};
    const auto start = std::chrono::steady_clock::now();
    for (const TwinRun& run : protocol.runs) {
        TwinRunResult r = train_twin(dir, protocol, run, data);
        results.claim_seconds[run.claim] += r.wall_seconds;
        if (log)
            log(fmt::format("  {}: step-1 loss {:.6f}, validation {:.2f}%{} ({:.1f}s)", run.name,
                            r.losses.empty() ? NAN : r.losses.front(), 100 * r.validation_accuracy,
                            r.diverged ? ", diverged: " + r.divergence : "", r.wall_seconds));
        results.runs[run.name] = std::move(r);
    }
    results.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return results;
}

void run_twins(const TwinOptions& options) {
    const TwinProfile profile = twin_profile(options.tiny);
    const ClaimData data = load_claim_data("fashion-mnist", options.data_dir, profile.data);
    const TwinProtocol protocol{.profile = profile,
                                .runs = twin_runs(profile, data.train.size()),
                                .threads = options.threads,
                                .classes = static_cast<int64_t>(data.train.class_names.size()),
                                .command = options.command};
    std::filesystem::create_directories(options.out_dir);
    // A PyTorch twin of an earlier protocol must not be compared with these runs.
    std::filesystem::remove(options.out_dir + "/pytorch.json");
    write_twin_inputs(options.out_dir, protocol, data);
    if (options.log)
        options.log(fmt::format("{}: protocol.json, {} runs' initial weights and batch orders; training them in bnlab",
                                options.out_dir, protocol.runs.size()));
    const TwinResults results = run_bnlab_twins(options.out_dir, protocol, data, options.log);
    write_text_atomically(options.out_dir + "/bnlab.json", to_json(results).dump(1) + "\n");
}

nlohmann::json read_json_file(const std::string& path) {
    const std::vector<uint8_t> bytes = read_regular_file(path, kMaxJsonBytes);
    try {
        return nlohmann::json::parse(bytes.begin(), bytes.end());
    } catch (const nlohmann::json::parse_error& e) {
        throw Error(fmt::format("{}: not valid JSON: {}", path, e.what()));
    }
}

}  // namespace bnlab::claims
