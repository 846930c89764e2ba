#include "experiments/claims/claim.h"

#include <cblas.h>
#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string_view>
#include <fcntl.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/json_integer.h"
#include "core/parallel.h"
#include "core/printable.h"
#include "core/regular_file.h"
#include "experiments/claims/report.h"
#include "train/model_file.h"
#include "train/run_recorder.h"

namespace bnlab::claims {

namespace {

constexpr int64_t kMaxSummaryBytes = int64_t{1} << 20;  // a summary.json is a few hundred bytes

// Forwards steps and rows to the recorder and to an optional extra observer.
struct Tee : TrainObserver {
    Tee(TrainObserver& a, TrainObserver* b) : a(a), b(b) {}
    void on_step(const StepProgress& p) override {
        a.on_step(p);
        if (b) b->on_step(p);
    }
    void on_row(const MetricsRow& r) override {
        a.on_row(r);
        if (b) b->on_row(r);
    }
    bool stop_requested() const override { return a.stop_requested() || (b && b->stop_requested()); }
    TrainObserver& a;
    TrainObserver* b;
};

std::string today() {
    const std::time_t now = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
    return buf;
}

// The index's "where it holds": the regime map's summary, or what a one-regime report tested.
std::string where_cell(const nlohmann::json& summary) {
    const std::string where = summary.value("where_it_holds", std::string());
    if (!where.empty()) return where;
    return summary.value("regime_axis", std::string()).empty() ? "one regime only (no axis mapped yet)" : "at no point tested";
}

}  // namespace

ClaimContext::ClaimContext(ClaimOptions options, std::string claim_name)
    : options_(std::move(options)), name_(std::move(claim_name)), dir_(options_.out_dir + "/" + name_), shared_dir_(dir_) {
    if (!is_report_writer()) {
        // A rank > 0 writes its copy of the report, the plots and the runs outside spread()
        // (which every rank trains alike) here, so that they never race rank 0's.
        scratch_ = (std::filesystem::temp_directory_path() /
                    fmt::format("bnlab-claims-rank{}-{}", options_.group->rank(), ::getpid()))
                       .string();
        dir_ = scratch_ + "/" + name_;
    }
    std::filesystem::create_directories(shared_dir_ + "/runs");
    std::filesystem::create_directories(dir_ + "/runs");
    std::filesystem::create_directories(dir_ + "/plots");
    if (options_.group && options_.reuse_finished_runs) {
        finished_at_start_.emplace();
        for (const auto& entry : std::filesystem::directory_iterator(runs_dir()))
            if (!std::filesystem::exists(entry.path() / kRunIncompleteMarker) &&
                std::filesystem::exists(entry.path() / "model.safetensors"))
                finished_at_start_->insert(entry.path().filename().string());
        options_.group->barrier();  // before any rank trains a run of this claim
    }
    if (options_.group && options_.group->size() > 1) {
        // The folder of job files: rank 0 makes it (mkdtemp replaces the 6 X's with a name no
        // folder there has yet) and sends its 6 letters to the others.
        std::string name = "spread-XXXXXX";
        if (options_.group->rank() == 0) {
            std::string path = shared_dir_ + "/" + name;
            if (!::mkdtemp(path.data())) throw Error(fmt::format("cannot make a folder {}: {}", path, std::strerror(errno)));
            name = std::filesystem::path(path).filename().string();
        }
        options_.group->broadcast(std::as_writable_bytes(std::span(name)));
        job_files_ = shared_dir_ + "/" + name;
    }
}

ClaimContext::~ClaimContext() {
    std::error_code ignored;
    if (!scratch_.empty()) std::filesystem::remove_all(scratch_, ignored);
    // After the claim, every rank has taken its last job (rank 0 has gathered the results of the
    // last spread() call); after a failure, the claim run is stopped on every rank anyway.
    if (!job_files_.empty() && is_report_writer()) std::filesystem::remove_all(job_files_, ignored);
}

bool ClaimContext::take_job(size_t call, size_t i) const {
    const std::string path = fmt::format("{}/{}-{}", job_files_, call, i);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd >= 0) {
        ::close(fd);
        return true;
    }
    if (errno == EEXIST) return false;  // another rank took it
    throw Error(fmt::format("cannot create {}: {} (is {} one folder for every rank?)", path, std::strerror(errno),
                            options_.out_dir));
}

std::vector<nlohmann::json> ClaimContext::spread(size_t n, const std::function<nlohmann::json(size_t)>& job) {
    const size_t call = spread_calls_++;
    // This rank's jobs, as [[i, result], ...]: in one process every job, else those it took first.
    nlohmann::json mine = nlohmann::json::array();
    in_spread_job_ = true;
    try {
        for (size_t i = 0; i < n; ++i)
            if (job_files_.empty() || take_job(call, i)) mine.push_back({i, job(i)});
    } catch (...) {
        in_spread_job_ = false;
        throw;
    }
    in_spread_job_ = false;
    std::vector<nlohmann::json> results(n);
    const auto collect = [&](const std::string& text) {
        for (const auto& entry : nlohmann::json::parse(text)) results.at(json_integer<size_t>(entry.at(0))) = entry.at(1);
    };
    const std::string text = mine.dump();  // encoded in one process too: the same numbers either way
    if (!options_.group || options_.group->size() == 1) {
        collect(text);
        return results;
    }
    for (const std::vector<std::byte>& part : all_gather(*options_.group, std::as_bytes(std::span(text))))
        collect(std::string(reinterpret_cast<const char*>(part.data()), part.size()));
    return results;
}

int ClaimContext::seeds(int quick_default, int full_default) const {
    return options_.seeds > 0 ? options_.seeds : (options_.quick ? quick_default : full_default);
}

std::string ClaimContext::dataset(const std::string& default_name) const {
    return options_.dataset.empty() ? default_name : options_.dataset;
}

TrainedRun ClaimContext::train(const std::string& run_name, const TrainConfig& config, const Dataset& train,
                               const Dataset& eval, TrainObserver* extra) {
    TrainConfig c = config;
    if (options_.threads > 0) c.threads = options_.threads;
    TrainedRun run;
    run.name = run_name;
    run.dir = (in_spread_job_ ? shared_dir_ : dir_) + "/runs/" + run_name;
    run.trainer = std::make_unique<Trainer>(c, train, eval);
    RunRecorder recorder(run.dir, *run.trainer);
    Tee tee(recorder, extra);
    if (auto* model_observer = dynamic_cast<ModelObserver*>(extra)) model_observer->on_start(*run.trainer);
    run.result = run.trainer->run(tee);
    recorder.finish(run.result, *run.trainer);
    run.rows = recorder.rows();
    log(fmt::format("  {}: {} after {} steps, {:.1f}s", run_name,
                    run.result.diverged ? fmt::format("diverged at step {}", run.result.diverged_at)
                                        : fmt::format("eval accuracy {:.2f}%", 100 * run.result.last.test_accuracy),
                    run.result.steps, run.result.wall_seconds));
    return run;
}

std::optional<ClaimContext::FinishedRun> ClaimContext::finished_run(const std::string& run_name,
                                                                  const TrainConfig& config) const {
    if (!options_.reuse_finished_runs || (finished_at_start_ && !finished_at_start_->contains(run_name)))
        return std::nullopt;
    const std::filesystem::path dir = std::filesystem::path(runs_dir()) / run_name;
    if (std::filesystem::exists(dir / kRunIncompleteMarker) || !std::filesystem::exists(dir / "model.safetensors"))
        return std::nullopt;
    TrainConfig c = config;
    if (options_.threads > 0) c.threads = options_.threads;
    std::ifstream config_file(dir / "config.json");
    std::ifstream metrics_file(dir / "metrics.csv");
    if (!config_file || !metrics_file) return std::nullopt;
    try {
        if (nlohmann::json::parse(config_file) != to_json(c)) return std::nullopt;
    } catch (const nlohmann::json::exception&) {
        return std::nullopt;  // not a config bnlab wrote: train the run again
    }
    const std::string csv{std::istreambuf_iterator<char>(metrics_file), std::istreambuf_iterator<char>()};
    // The gradient-norm columns, from the header: step,...,status,grad_norm.<name>,...
    std::vector<std::string> grad_names;
    std::stringstream header(csv.substr(0, csv.find('\n')));
    constexpr std::string_view kGradColumn = "grad_norm.";
    for (std::string column; std::getline(header, column, ',');)
        if (column.starts_with(kGradColumn)) grad_names.push_back(column.substr(kGradColumn.size()));
    FinishedRun run{metrics_rows(csv, grad_names, (dir / "metrics.csv").string()),
                    csv.find(",diverged") != std::string::npos};
    log(fmt::format("  {}: finished before, read back ({} rows{})", run_name, run.rows.size(),
                    run.diverged ? ", diverged" : ""));
    return run;
}

void ClaimResult::set_regime(const RegimeSeries& series, std::string axis, const std::vector<std::string>& point_reasons,
                             const std::vector<std::string>& point_keys) {
    const std::vector<RegimeSeries> all{series};
    verdict = overall_verdict(all);
    regime_axis = std::move(axis);
    where_it_holds = bnlab::claims::where_it_holds(all);
    reason = fmt::format("{}. {}", describe_series(series), fmt::join(point_reasons, "; "));
    key_result = fmt::format("{}", fmt::join(point_keys, "; "));
}

void ClaimContext::log(const std::string& line) const {
    if (options_.log) options_.log(line);
}

const Claim* find_claim(const std::string& name) {
    for (const Claim& c : all_claims())
        if (c.name == name) return &c;
    return nullptr;
}

ClaimOutcome run_claim(const Claim& claim, const ClaimOptions& options) {
    const auto start = std::chrono::steady_clock::now();
    ClaimContext context(options, claim.name);
    context.log(fmt::format("claim {}: {}{}", claim.name, claim.title, options.quick ? " (quick profile)" : ""));
    const ClaimResult result = claim.run(context);
    if (result.verdict != "confirmed" && result.verdict != "refuted" && result.verdict != "depends")
        throw Error("claim " + claim.name + ": verdict must be confirmed, refuted or depends, got '" + result.verdict + "'");
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // The runs' thread count (a resumed claim run may not have trained any run itself).
    const int threads = options.threads > 0 ? options.threads : num_threads();

    std::string r = fmt::format("# Claim: {}\n\n> {}\n\n", claim.title, claim.statement);
    r += fmt::format("**Verdict: {}**: {}\n\n", result.verdict, result.reason);
    if (!result.regime_axis.empty())
        r += fmt::format("**Regime axis**: {}. **Where it holds**: {}.\n\n", result.regime_axis, result.where_it_holds);
    r += fmt::format("## Source\n\n{}\n\n## Protocol\n\n{}\n\n## Rule (fixed before the numbers)\n\n{}\n\n", claim.source,
                     claim.protocol, claim.rule);
    r += "## Results\n\n" + result.body + "\n";
    if (!result.deviations.empty()) {
        r += "## Deviations from the protocol\n\n";
        for (const auto& d : result.deviations) r += "- " + d + "\n";
        r += "\n";
    }
    r += fmt::format("## What was run\n\n```\n{}\n```\n\n", options.command_line.empty() ? "bnlab claims run " + claim.name
                                                                                         : options.command_line);
    r += fmt::format("- profile: {}\n- data: {}\n- threads: {}\n- wall time: {:.1f}s ({:.1f} min)\n- date: {}\n",
                     options.quick ? "quick" : "default", result.data, threads, wall, wall / 60, today());
    r += fmt::format("- bnlab 0.1, {}, g++ {}\n", openblas_get_config(), __VERSION__);
    r += "- every run's config.json, metrics.csv and train.log are under `runs/`; plots and their data under `plots/`\n";
    const std::string report = context.dir() + "/report.md";
    write_text_atomically(report, r);

    const nlohmann::json summary = {{"name", claim.name},   {"title", claim.title},   {"verdict", result.verdict},
                                    {"reason", result.reason}, {"key_result", result.key_result},
                                    {"regime_axis", result.regime_axis}, {"where_it_holds", result.where_it_holds},
                                    {"profile", options.quick ? "quick" : "default"}, {"wall_seconds", wall},
                                    {"threads", threads}, {"ranks", options.group ? options.group->size() : 1},
                                    {"date", today()}};
    write_text_atomically(context.dir() + "/summary.json", summary.dump(2) + "\n");
    context.log(fmt::format("claim {}: {} ({:.1f}s); report {}", claim.name, result.verdict, wall, report));
    return {claim.name, result.verdict, result.reason, result.key_result, report, wall};
}

std::string write_index(const std::string& out_dir) {
    Table table{{"claim", "as people state it", "verdict", "where it holds", "key result", "profile", "wall time"}, {}};
    double total = 0;
    std::set<int> threads;
    for (const Claim& c : all_claims()) {
        const std::string path = out_dir + "/" + c.name + "/summary.json";
        std::error_code ec;
        if (!std::filesystem::exists(std::filesystem::symlink_status(path, ec))) continue;  // the claim was not run
        // Only a regular file of a sane size is read (a FIFO would block, a directory throw);
        // a summary that is not JSON, or has a field of the wrong type, names its file.
        const std::vector<uint8_t> bytes = read_regular_file(path, kMaxSummaryBytes, "cannot read the claim summary");
        try {
            const nlohmann::json s = nlohmann::json::parse(bytes.begin(), bytes.end());
            const double wall = s.value("wall_seconds", 0.0);
            total += wall;
            if (s.contains("threads")) {
                try {
                    threads.insert(json_integer<int>(s["threads"]));
                } catch (const JsonIntegerError& e) {
                    throw Error(path + ": field 'threads': " + e.what());
                }
            }
            // MPI ranks the claim ran on (summaries before the field existed: not said).
            int ranks = 1;
            if (s.contains("ranks")) {
                try {
                    ranks = json_integer<int>(s["ranks"]);
                } catch (const JsonIntegerError& e) {
                    throw Error(path + ": field 'ranks': " + e.what());
                }
            }
            // The summary's strings are data, not markdown: escaped (core/printable.h).
            const auto text = [&](const char* key, const char* fallback) { return markdown_text(s.value(key, std::string(fallback))); };
            table.rows.push_back({fmt::format("[{}]({}/report.md)", c.title, c.name), c.statement,
                                  "**" + text("verdict", "?") + "**", markdown_text(where_cell(s)),
                                  text("key_result", ""), text("profile", ""),
                                  fmt::format("{:.1f} min{}", wall / 60, ranks > 1 ? fmt::format(" on {} ranks", ranks) : "")});
        } catch (const nlohmann::json::exception& e) {
            throw Error(path + ": " + e.what());
        }
    }
    std::string index = "# BatchNorm claims, tested\n\nEach row links to a report with the source, the protocol, the rule "
                        "that decides the verdict (fixed before the numbers), the results with 95% bootstrap "
                        "confidence intervals over paired seeds, plots, and exactly what was run.\n\n";
    index += table.markdown();
    threads.erase(0);  // summaries written before the field existed
    const std::string threads_text = threads.empty() ? ""
                                                      : fmt::format(" on {} thread{}", fmt::join(threads, " and "),
                                                                    threads == std::set<int>{1} ? "" : "s");
    index += fmt::format("Total wall time: {:.1f} min{} (the sum of the claims' wall times; a claim on N MPI ranks "
                         "ran N processes).\n",
                         total / 60, threads_text.empty() ? "" : threads_text + " per process");
    const std::string path = out_dir + "/index.md";
    write_text_atomically(path, index);
    return path;
}

}  // namespace bnlab::claims
