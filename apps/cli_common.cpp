#include "apps/cli_common.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <thread>

#include "core/cpu.h"
#include "core/error.h"
#include "core/printable.h"
#include "data/catalog.h"
#include "core/parallel.h"
#include "models/zoo.h"
#include "train/plain_model.h"

namespace bnlab::cli {

namespace {

std::string command_path(const CLI::App* command) {
    std::string path;
    for (const CLI::App* c = command; c && c->get_parent(); c = c->get_parent())
        path = c->get_name() + (path.empty() ? "" : " " + path);
    return "bnlab" + (path.empty() ? "" : " " + path);
}

// config field -> flag, then its aliases. The fields are TrainConfig's config.json keys
// (train/config.h) and CompareConfig's; activation, mlp_hidden_layers, mlp_width and bn_eps
// have no flag. --batch-size is what PyTorch's examples say; --batch is kept for old scripts.
const std::map<std::string, std::vector<std::string>>& flags_by_field() {
    static const std::map<std::string, std::vector<std::string>> table{
        {"dataset", {"--dataset"}},         {"data_dir", {"--data-dir"}},
        {"train_limit", {"--limit"}},       {"test_limit", {"--test-limit"}},
        {"augment", {"--augment"}},         {"model", {"--model"}},
        {"norm", {"--norm"}},               {"norm_after_activation", {"--norm-position"}},
        {"gn_groups", {"--gn-groups"}},     {"bn_momentum", {"--bn-momentum"}},
        {"init_scale", {"--init-scale"}},   {"init", {"--init"}},
        {"dropout", {"--dropout"}},         {"optimizer", {"--optimizer"}},
        {"lr", {"--lr"}},                   {"momentum", {"--momentum"}},
        {"nesterov", {"--nesterov"}},       {"weight_decay", {"--weight-decay"}},
        {"schedule", {"--schedule"}},       {"warmup_steps", {"--warmup"}},
        {"clip_grad_norm", {"--clip-grad-norm"}},
        {"batch_size", {"--batch-size", "--batch"}}, {"epochs", {"--epochs"}},
        {"steps", {"--steps"}},             {"eval_every", {"--eval-every"}},
        {"seed", {"--seed"}},               {"threads", {"--threads"}},
        {"arms", {"--arms"}},               {"seeds", {"--seeds"}},
        {"bn_sync", {"--bn-sync"}},         {"bn_ghost_batch_size", {"--bn-ghost-batch"}},
        {"depth", {"--depth"}},             {"width", {"--width"}},
        {"first_seed", {"--first-seed"}},   {"target", {"--target"}},
    };
    return table;
}

// What to do about data that is not there: the data set's install hint and `bnlab data
// download`, or --partial for a folder whose files present can be loaded.
std::string how_to_get(const MissingDataError& missing) {
    if (missing.partial_would_load()) return " (--partial loads the files present)";
    if (!missing.where().folder.empty()) return "";
    const DatasetSpec& spec = missing.spec();
    std::string hint = "\nTo get it:";
    if (!spec.install_hint.empty()) hint += "\n  " + spec.install_hint + ", or";
    return hint + "\n  bnlab data download " + spec.name +
           " --to DIR   (needs internet), then pass --data-dir DIR or set BNLAB_DATA=DIR";
}

// Runs `body`; a bnlab::Error or filesystem error ends the command with exit code `code`,
// except a FieldError (a bad config value: a bad flag wherever the library finds it, e.g. a
// --batch larger than the data set) and a MissingDataError, which are usage errors.
void guarded(const CLI::App* command, int code, const std::function<void()>& body) {
    try {
        body();
    } catch (const FieldError& e) {
        fail(command, kUsageError, cli_message(e));
    } catch (const MissingDataError& e) {
        fail(command, kUsageError, cli_message(e));
    } catch (const Error& e) {
        fail(command, code, cli_message(e));
    } catch (const std::filesystem::filesystem_error& e) {
        fail(command, code, e.what());
    }
}

}  // namespace

const std::vector<std::string>& flag_and_aliases(const std::string& field) {
    const auto found = flags_by_field().find(field);
    if (found == flags_by_field().end()) throw std::logic_error("no command-line flag for the config field " + field);
    return found->second;
}

const std::string& flag(const std::string& field) { return flag_and_aliases(field).front(); }

std::string flag_names(const std::string& field) { return fmt::format("{}", fmt::join(flag_and_aliases(field), ",")); }

std::string cli_message(const Error& error) {
    if (const auto* bad = dynamic_cast<const FieldError*>(&error)) {
        const auto found = flags_by_field().find(bad->field());
        return (found == flags_by_field().end() ? bad->field() : found->second.front()) + ": " + bad->problem();
    }
    if (const auto* missing = dynamic_cast<const MissingDataError*>(&error)) return missing->what() + how_to_get(*missing);
    return error.what();
}

CLI::Validator one_of(const std::string& noun, const std::vector<std::string>& choices,
                      std::function<bool(const std::string&)> accepts) {
    if (!accepts)
        accepts = [choices](const std::string& v) { return std::ranges::find(choices, v) != choices.end(); };
    const auto problem = [noun, choices, accepts](std::string& value) {
        return accepts(value) ? std::string() : unknown_choice(noun, value, choices);
    };
    return CLI::Validator(problem, fmt::format("{{{}}}", fmt::join(choices, ",")));
}

std::string or_list(const std::vector<std::string>& names) {
    std::string text;
    for (size_t i = 0; i < names.size(); ++i) text += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
    return text;
}

void report(const CLI::App* command, const std::string& message) {
    std::fprintf(stderr, "%s: %s\n", command_path(command).c_str(), message.c_str());
}

void fail(const CLI::App* command, int code, const std::string& message) {
    report(command, message);
    throw CLI::RuntimeError(code);
}

void run_guarded(const CLI::App* command, const std::function<void()>& body) { guarded(command, kRuntimeFailure, body); }

void check_usage(const CLI::App* command, const std::function<void()>& check) { guarded(command, kUsageError, check); }

namespace {
// The Levenshtein distance: insertions, deletions and substitutions turning a into b.
size_t edit_distance(const std::string& a, const std::string& b) {
    // Levenshtein: row[j] = distance between a[0, i) and b[0, j), one row at a time.
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t substituted = diagonal + (a[i - 1] != b[j - 1]);
            diagonal = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, substituted});
        }
    }
    return row[b.size()];
}

// The command's option name nearest to `argument` by edit distance, or "" if none is near.
std::string nearest_flag(const CLI::App* command, const std::string& argument) {
    const std::string typed = argument.substr(0, argument.find('='));  // --bach=64 -> --bach
    std::string best;
    size_t best_distance = std::max<size_t>(2, typed.size() / 3) + 1;  // farther than this is no suggestion
    for (const CLI::Option* option : command->get_options()) {
        std::vector<std::string> names;
        for (const std::string& name : option->get_lnames()) names.push_back("--" + name);
        for (const std::string& name : option->get_snames()) names.push_back("-" + name);
        for (const std::string& name : names)
            if (const size_t d = edit_distance(typed, name); d < best_distance) {
                best_distance = d;
                best = name;
            }
    }
    return best;
}
}  // namespace

void reject_extras(const CLI::App* command) {
    const std::vector<std::string> extras = command->remaining();
    if (extras.empty()) return;
    const std::string& first = extras.front();
    const std::string nearest = first.starts_with("-") ? nearest_flag(command, first) : "";
    if (first.starts_with("-"))
        fail(command, kUsageError, "unknown option '" + first + "'" +
                                       (nearest.empty() ? "" : "; did you mean " + nearest + "?") + " (see --help)");
    fail(command, kUsageError, "unexpected argument '" + first + "' (see --help)");
}

void refuse_existing_output(const CLI::App* command, const std::string& dir, const std::string& what,
                            const std::string& how_to_continue) {
    std::error_code ec;
    if (!std::filesystem::exists(dir, ec)) return;
    if (!std::filesystem::is_directory(dir, ec)) fail(command, kUsageError, dir + ": exists and is not a directory");
    std::vector<std::string> entries;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) entries.push_back(entry.path().filename());
    if (entries.empty()) return;
    std::ranges::sort(entries);
    if (entries.size() > 4) entries.resize(4), entries.push_back("...");
    fail(command, kUsageError, fmt::format("{} already holds {} ({}): not overwriting it; pass --force to replace it{}",
                                           dir, what, fmt::join(entries, ", "), how_to_continue));
}

Dataset load_split(const CLI::App* command, const std::string& name, const std::string& split,
                   const LoadOptions& options) {
    Dataset data;
    check_usage(command, [&] { data = load_dataset(name, split, options); });
    return data;
}

void add_model_argument(CLI::App* command, std::string& path) {
    command->add_option("model", path, "MODEL.safetensors written by bnlab train");
}

void require_file(const CLI::App* command, const std::string& path, const std::string& what) {
    if (path.empty()) fail(command, kUsageError, "missing the " + what + " argument (see --help)");
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        fail(command, kUsageError, what + " '" + path + "': " +
                                       (std::filesystem::exists(path, ec) ? "not a file" : "no such file"));
}

void warn_about_model(const CLI::App* command, const std::string& path, const SavedModel& saved) {
    for (const std::string& warning : model_warnings(saved))
        report(command, "warning: " + path + ": " + warning + " (its outputs are not meaningful)");
}

void add_kernels_flag(CLI::App* command) {
    const auto check = [](std::string& text) -> std::string {
        try {
            resolve_kernels(parse_kernels(text, "--kernels"), cpu_features());
            return "";
        } catch (const Error& e) {
            return e.what();
        }
    };
    command
        ->add_option_function<std::string>(
            "--kernels", [](const std::string& text) { set_kernels(parse_kernels(text, "--kernels")); },
            "matrix-product kernels: auto (AVX-512 where this CPU has it), portable (OpenBLAS) or avx512 (BLIS); "
            "default $BNLAB_KERNELS, else auto")
        ->check(CLI::Validator(check, "auto|portable|avx512"));
}

void add_model_choice_flags(CLI::App* command, ModelChoice& choice) {
    // --model takes what ModelConfig::arch takes: a named network or a spec (models/spec.h),
    // whose mistakes the library reports with their position when the model is built.
    command->add_option(flag("model"), choice.arch,
                        "architecture of a plain state_dict (no bnlab metadata): a named network or a spec such as "
                        "fc100-norm-relu-fc10")
        ->check(one_of("model", model_names(), [](const std::string&) { return true; }));
    command->add_option(flag("norm"), choice.norm, "its normalization (default none)")->check(one_of("norm", norm_names()));
    command->add_option(flag("threads"), choice.threads, "threads for OpenBLAS and OpenMP (0: the cores no other process is busy on)")
        ->capture_default_str();
    add_kernels_flag(command);
}

SavedModel load_model_file(const CLI::App* command, const std::string& path, const ModelChoice& choice,
                           const std::string& dataset, const LoadOptions& options) {
    if (choice.threads < 0 || choice.threads > kMaxThreads)
        fail(command, kUsageError, fmt::format("{}: must be in [0, {}] (0: the cores no other process is busy on), got {}", flag("threads"), kMaxThreads,
                                               choice.threads));
    set_num_threads(choice.threads > 0 ? choice.threads : default_threads());
    const TensorFile file = read_safetensors(path);
    if (has_bnlab_metadata(file)) {
        SavedModel saved = load_model(path);
        const ModelConfig& own = saved.config.model;
        if ((!choice.arch.empty() && choice.arch != own.arch) || (!choice.norm.empty() && choice.norm != own.norm))
            fail(command, kUsageError, fmt::format("{} is a bnlab model of {} with norm {}: --model/--norm say otherwise "
                                                   "(they are for plain state_dicts; leave them out)",
                                                   path, own.arch, own.norm));
        return saved;
    }
    if (choice.arch.empty())
        fail(command, kUsageError, path + " has no bnlab metadata (a plain state_dict): say its architecture with " +
                                       flag("model") + " and " + flag("norm") + " (see --help)");
    PlainModelSpec spec{.dataset = dataset.empty() ? TrainConfig{}.dataset : dataset};
    spec.model.arch = choice.arch;
    spec.model.norm = choice.norm.empty() ? "none" : choice.norm;
    LoadOptions load = options;
    load.folder_format = {};  // a folder's images as they are: the model's input is what we learn here
    const Dataset data = load_split(command, spec.dataset, "test", load);
    spec.input = {data.channels, data.height, data.width, static_cast<int64_t>(data.class_names.size())};
    spec.class_names = data.class_names;
    spec.mean = data.mean;
    spec.std = data.std;
    SavedModel saved;
    check_usage(command, [&] { saved = load_plain_model(path, file, spec); });
    return saved;
}

std::string describe(const SavedModel& saved) {
    // The names come from the model file: printed with control characters escaped.
    return fmt::format("{} (norm {}) trained on {}, input {}x{}x{}, {} classes", printable(saved.config.model.arch),
                       printable(saved.config.model.norm), printable(saved.config.dataset), saved.input.channels, saved.input.height,
                       saved.input.width, saved.class_names.size());
}

void add_model_flags(CLI::App* c, ModelConfig& m) {
    // Any text passes here: a spec's mistakes are reported with their position by the
    // library's validation (check_train_flags), an unknown name with the list of names.
    c->add_option(flag("model"), m.arch, "a named network, or a spec of layers such as conv32-norm-relu-pool2-fc (bnlab summary shows it)")
        ->check(one_of("model", model_names(), [](const std::string&) { return true; }))
        ->capture_default_str();
    c->add_option(flag("depth"), m.depth, "weight layers of mlp or plain-cnn, e.g. 2..20 (0: the model's default)")->capture_default_str();
    c->add_option(flag("width"), m.width, "hidden features of mlp, first-stage channels of plain-cnn (0: the model's default)")
        ->capture_default_str();
}

void add_train_flags(CLI::App* c, TrainConfig& t, std::string& bn_momentum, std::string& norm_position) {
    c->add_option(flag("dataset"), t.dataset, "data set (folder:PATH: an image folder)")
        ->check(one_of("data set", dataset_choices(), is_valid_dataset_name))
        ->capture_default_str();
    c->add_option(flag("data_dir"), t.data_dir, "folder searched first for the data set");
    c->add_option(flag("train_limit"), t.train_limit, "train on the first N training images (0: all)")->capture_default_str();
    c->add_option(flag("test_limit"), t.test_limit, "evaluate on the first N test images (0: all)")->capture_default_str();
    c->add_flag(flag("augment"), t.augment, "random crop (padding 4) and horizontal flip");
    add_model_flags(c, t.model);
    c->add_option(flag("norm"), t.model.norm, "normalization after each hidden layer")
        ->check(one_of("norm", norm_names()))
        ->capture_default_str();
    c->add_option(flag("norm_after_activation"), norm_position, "before or after the activation")->capture_default_str();
    c->add_option(flag("gn_groups"), t.model.gn_groups, "GroupNorm groups")->capture_default_str();
    c->add_option(flag("bn_momentum"), bn_momentum, "BatchNorm momentum, or 'none' for a cumulative average")
        ->capture_default_str();
    c->add_option(flag("init_scale"), t.model.init_scale, "multiply every initial weight (--init gaussian: their std)")
        ->capture_default_str();
    c->add_option(flag("init"), t.model.init, "initial weights: default is PyTorch's; gaussian N(0, init-scale^2) and he N(0, init-scale^2 * 2/fan-in), both with zero biases")
        ->check(one_of("init", init_names()))
        ->capture_default_str();
    c->add_option(flag("dropout"), t.model.dropout, "dropout before the last layer (0: none)")->capture_default_str();
    c->add_option(flag("optimizer"), t.optimizer, "optimizer")
        ->check(one_of("optimizer", optimizer_names()))
        ->capture_default_str();
    c->add_option(flag("lr"), t.lr, "learning rate")->capture_default_str();
    c->add_option(flag("momentum"), t.momentum, "SGD momentum")->capture_default_str();
    c->add_flag(flag("nesterov"), t.nesterov, "Nesterov momentum (SGD)");
    c->add_option(flag("weight_decay"), t.weight_decay, "weight decay")->capture_default_str();
    c->add_option(flag("schedule"), t.schedule, "learning-rate schedule (step: x0.1 at 1/3 and 2/3)")
        ->check(one_of("schedule", schedule_names()))
        ->capture_default_str();
    c->add_option(flag("warmup_steps"), t.warmup_steps, "linear warm-up steps")->capture_default_str();
    c->add_option(flag("clip_grad_norm"), t.clip_grad_norm, "clip gradients to this global norm (0: off)")
        ->capture_default_str();
    c->add_option(flag_names("batch_size"), t.batch_size, "batch size")->capture_default_str();
    c->add_option(flag("epochs"), t.epochs, "epochs")->capture_default_str();
    c->add_option(flag("steps"), t.steps, "train exactly this many steps instead (0: use --epochs)")->capture_default_str();
    c->add_option(flag("eval_every"), t.eval_every, "steps between test evaluations (0: every epoch)")->capture_default_str();
    c->add_option(flag("seed"), t.seed, "seed of the initial weights and the batch order")->capture_default_str();
    c->add_option(flag("threads"), t.threads, "threads for OpenBLAS and OpenMP (0: the cores no other process is busy on)")->capture_default_str();
    add_kernels_flag(c);
    c->add_option(flag("bn_ghost_batch_size"), t.model.batch_norm.ghost_batch_size,
                  "BatchNorm statistics per ghost batch of this many samples in training (0: the whole batch)")
        ->capture_default_str();
    c->add_option(flag("bn_sync"), t.bn_sync,
                  "under mpirun -np N: BatchNorm statistics per rank (none, PyTorch DDP's default) or over the "
                  "global batch (all, SyncBatchNorm); --batch is the global batch")
        ->check(one_of("bn_sync mode", {"none", "all"}))
        ->capture_default_str();
}

bool is_after_activation(const CLI::App* command, const std::string& norm_position) {
    if (norm_position != "before" && norm_position != "after")
        fail(command, kUsageError, flag("norm_after_activation") + ": '" + norm_position + "' is not before or after");
    return norm_position == "after";
}

void check_train_flags(const CLI::App* command, TrainConfig& t, const std::string& bn_momentum,
                       const std::string& norm_position) {
    t.model.norm_after_activation = is_after_activation(command, norm_position);
    if (bn_momentum == "none") {
        t.model.batch_norm.momentum = std::nullopt;
    } else {
        try {
            size_t used = 0;
            t.model.batch_norm.momentum = std::stod(bn_momentum, &used);
            if (used != bn_momentum.size()) throw std::invalid_argument(bn_momentum);
        } catch (const std::exception&) {
            fail(command, kUsageError, flag("bn_momentum") + ": '" + bn_momentum + "' is not a number or 'none'");
        }
    }
    check_usage(command, [&] { t.validate(); });
}

}  // namespace bnlab::cli
