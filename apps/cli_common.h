// What every bnlab subcommand shares: exit codes, error reporting, run options.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/catalog.h"
#include "data/dataset.h"
#include "train/config.h"
#include "train/model_file.h"

namespace bnlab::cli {

constexpr int kRuntimeFailure = 1;  // a file could not be read, a run failed, ...
constexpr int kUsageError = 2;      // bad flags or arguments
constexpr int kDiverged = 3;        // training stopped on a NaN or infinite loss

// The library names a bad setting by its config field (FieldError: "batch_size"); the command
// line says the flag. This is the one table of flag spellings: add_train_flags and the compare
// command name their options through flag(), and cli_message() reads it back.
// The flag of a config field: "batch_size" -> "--batch". A std::logic_error for a field with no flag.
const std::string& flag(const std::string& field);
// The names CLI11 is given for the field's option: the flag, then its aliases ("--batch-size,--batch").
std::string flag_names(const std::string& field);
// A library error as the command line says it: a FieldError names the flag ("--batch: must be
// >= 1, got 0"; a field with no flag keeps its own name), a MissingDataError adds how to get the
// data (bnlab data download, --data-dir, --partial); any other error is its message.
std::string cli_message(const Error& error);

// A CLI11 check that a value is one of `choices` (shown in --help as {a,b,c}); it fails with the
// library's message, "unknown <noun> 'x' (known: ...)". `accepts` replaces plain membership
// where a list holds a pattern (data sets: folder:PATH).
CLI::Validator one_of(const std::string& noun, const std::vector<std::string>& choices,
                      std::function<bool(const std::string&)> accepts = {});
// "a, b or c", for help texts.
std::string or_list(const std::vector<std::string>& names);

// Prints "bnlab <command>: message" to stderr (and goes on).
void report(const CLI::App* command, const std::string& message);
// report(), then ends the command with exit code `code`.
[[noreturn]] void fail(const CLI::App* command, int code, const std::string& message);
// Runs `body`; a bnlab::Error or filesystem error becomes exit code 1 with its cli_message
// (a FieldError or MissingDataError: exit code 2, a bad flag or data set found late).
void run_guarded(const CLI::App* command, const std::function<void()>& body);
// Runs `check` (a library validation); a bnlab::Error becomes exit code 2 with its cli_message.
void check_usage(const CLI::App* command, const std::function<void()>& check);
// Exit code 2 for arguments CLI11 left over (commands use allow_extras to report them here);
// an unknown option names the command's nearest one by edit distance ("did you mean --lr?").
void reject_extras(const CLI::App* command);

// Exit code 2 when `dir` exists and is not empty: what a previous run or report wrote is never
// silently replaced. The message names the directory, says it holds `what` ("a previous run"),
// that --force replaces it, then `how_to_continue` (e.g. " or --resume DIR to continue it").
void refuse_existing_output(const CLI::App* command, const std::string& dir, const std::string& what,
                            const std::string& how_to_continue = "");

// Loads a data set split for a command; a data set that is missing or unreadable is a usage
// error (exit code 2) whose message says where bnlab looked and how to get it (cli_message).
Dataset load_split(const CLI::App* command, const std::string& name, const std::string& split,
                   const LoadOptions& options);
// The MODEL.safetensors positional argument of eval and predict; check it with require_file.
void add_model_argument(CLI::App* command, std::string& path);
// Exit code 2 naming `what` (e.g. "MODEL") when `path` is empty or not an existing file: a
// path on the command line that names nothing is a usage error, not a failure of the run.
void require_file(const CLI::App* command, const std::string& path, const std::string& what);
// Prints "warning: MODEL: ..." on stderr for each of model_warnings(saved) (NaN or infinite
// weights, negative running_var); the command goes on (exit code unchanged).
void warn_about_model(const CLI::App* command, const std::string& path, const SavedModel& saved);
// --model, --norm and --threads of eval and predict: the architecture of a plain state_dict
// (a safetensors file without bnlab metadata, train/plain_model.h) and the threads to use.
struct ModelChoice {
    std::string arch, norm;  // "": the model file's own (a plain state_dict needs --model)
    int threads = 0;         // 0: all cores
};
void add_model_choice_flags(CLI::App* command, ModelChoice& choice);

// --kernels auto|portable|avx512: the matrix-product kernels (core/cpu.h; default
// $BNLAB_KERNELS, else auto). A choice this CPU cannot run is a usage error; the choice is
// applied when parsed, before the command runs.
void add_kernels_flag(CLI::App* command);
// Sets the thread count, then loads the model at `path`: a bnlab model file (its metadata says
// everything; --model/--norm, if given, must agree with it) or a plain state_dict built as
// --model/--norm say, with the input size, classes and normalization of `dataset` (default: the
// one bnlab trains on by default). Usage errors (exit code 2) for what the flags get wrong.
SavedModel load_model_file(const CLI::App* command, const std::string& path, const ModelChoice& choice,
                           const std::string& dataset, const LoadOptions& options);
// One line about a saved model: "mlp (norm bn) trained on fashion-mnist, input 1x28x28, 10 classes".
std::string describe(const SavedModel& saved);

// --model (a name or a spec), --depth and --width, bound to `model` (also used by summary).
void add_model_flags(CLI::App* command, ModelConfig& model);
// The --norm-position value as norm_after_activation; exit code 2 unless it is before or after.
bool is_after_activation(const CLI::App* command, const std::string& norm_position);
// The flags of a training run (train, compare), bound to `config`. Validated by check_train_flags.
void add_train_flags(CLI::App* command, TrainConfig& config, std::string& bn_momentum, std::string& norm_position);
// Applies the string flags and validates the config (TrainConfig::validate); exit code 2
// naming the flag on a bad value.
void check_train_flags(const CLI::App* command, TrainConfig& config, const std::string& bn_momentum,
                       const std::string& norm_position);

}  // namespace bnlab::cli
