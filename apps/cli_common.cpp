#include "apps/cli_common.h"

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "data/catalog.h"
#include "models/zoo.h"

namespace bnlab::cli {

namespace {
std::string command_path(const CLI::App* command) {
    std::string path;
    for (const CLI::App* c = command; c && c->get_parent(); c = c->get_parent())
        path = c->get_name() + (path.empty() ? "" : " " + path);
    return "bnlab" + (path.empty() ? "" : " " + path);
}
}  // namespace

void report(const CLI::App* command, const std::string& message) {
    std::fprintf(stderr, "%s: %s\n", command_path(command).c_str(), message.c_str());
}

void fail(const CLI::App* command, int code, const std::string& message) {
    report(command, message);
    throw CLI::RuntimeError(code);
}

void run_guarded(const CLI::App* command, const std::function<void()>& body) {
    try {
        body();
    } catch (const Error& e) {
        fail(command, kRuntimeFailure, e.what());
    } catch (const std::filesystem::filesystem_error& e) {
        fail(command, kRuntimeFailure, e.what());
    }
}

void reject_extras(const CLI::App* command) {
    const std::vector<std::string> extras = command->remaining();
    if (!extras.empty()) fail(command, kUsageError, "unexpected argument '" + extras.front() + "' (see --help)");
}

Dataset load_split(const CLI::App* command, const std::string& name, const std::string& split,
                   const LoadOptions& options) {
    try {
        return load_dataset(name, split, options);
    } catch (const Error& e) {
        fail(command, kUsageError, e.what());
    }
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

std::string describe(const SavedModel& saved) {
    return fmt::format("{} (norm {}) trained on {}, input {}x{}x{}, {} classes", saved.config.model.arch,
                       saved.config.model.norm, saved.config.dataset, saved.input.channels, saved.input.height,
                       saved.input.width, saved.class_names.size());
}

void add_train_flags(CLI::App* c, TrainConfig& t, std::string& bn_momentum, std::string& norm_position) {
    c->add_option("--dataset", t.dataset, "fashion-mnist, mnist, kmnist, cifar10, cifar100 or folder:PATH")
        ->capture_default_str();
    c->add_option("--data-dir", t.data_dir, "folder searched first for the data set");
    c->add_option("--limit", t.train_limit, "train on the first N training images (0: all)")->capture_default_str();
    c->add_option("--test-limit", t.test_limit, "evaluate on the first N test images (0: all)")->capture_default_str();
    c->add_flag("--augment", t.augment, "random crop (padding 4) and horizontal flip");
    c->add_option("--model", t.model.arch, "mlp, mnist-cnn or cifar-cnn")->capture_default_str();
    c->add_option("--norm", t.model.norm, "none, bn, ln or gn")->capture_default_str();
    c->add_option("--norm-position", norm_position, "before or after the activation")->capture_default_str();
    c->add_option("--gn-groups", t.model.gn_groups, "GroupNorm groups")->capture_default_str();
    c->add_option("--bn-momentum", bn_momentum, "BatchNorm momentum, or 'none' for a cumulative average")
        ->capture_default_str();
    c->add_option("--init-scale", t.model.init_scale, "multiply every initial weight (--init gaussian: their std)")
        ->capture_default_str();
    c->add_option("--init", t.model.init, "default (PyTorch's) or gaussian (N(0, init-scale^2), zero biases)")
        ->capture_default_str();
    c->add_option("--dropout", t.model.dropout, "dropout before the last layer (0: none)")->capture_default_str();
    c->add_option("--optimizer", t.optimizer, "sgd, adam or adamw")->capture_default_str();
    c->add_option("--lr", t.lr, "learning rate")->capture_default_str();
    c->add_option("--momentum", t.momentum, "SGD momentum")->capture_default_str();
    c->add_flag("--nesterov", t.nesterov, "Nesterov momentum (SGD)");
    c->add_option("--weight-decay", t.weight_decay, "weight decay")->capture_default_str();
    c->add_option("--schedule", t.schedule, "constant, step (x0.1 at 1/3 and 2/3) or cosine")->capture_default_str();
    c->add_option("--warmup", t.warmup_steps, "linear warm-up steps")->capture_default_str();
    c->add_option("--clip-grad-norm", t.clip_grad_norm, "clip gradients to this global norm (0: off)")
        ->capture_default_str();
    c->add_option("--batch", t.batch_size, "batch size")->capture_default_str();
    c->add_option("--epochs", t.epochs, "epochs")->capture_default_str();
    c->add_option("--steps", t.steps, "train exactly this many steps instead (0: use --epochs)")->capture_default_str();
    c->add_option("--eval-every", t.eval_every, "steps between test evaluations (0: every epoch)")->capture_default_str();
    c->add_option("--seed", t.seed, "seed of the initial weights and the batch order")->capture_default_str();
    c->add_option("--threads", t.threads, "threads for OpenBLAS and OpenMP (0: all cores)")->capture_default_str();
}

void check_train_flags(const CLI::App* command, TrainConfig& t, const std::string& bn_momentum,
                       const std::string& norm_position) {
    if (norm_position != "before" && norm_position != "after")
        fail(command, kUsageError, "--norm-position: '" + norm_position + "' is not before or after");
    t.model.norm_after_activation = norm_position == "after";
    if (bn_momentum == "none") {
        t.model.batch_norm.momentum = std::nullopt;
    } else {
        try {
            size_t used = 0;
            t.model.batch_norm.momentum = std::stod(bn_momentum, &used);
            if (used != bn_momentum.size()) throw std::invalid_argument(bn_momentum);
        } catch (const std::exception&) {
            fail(command, kUsageError, "--bn-momentum: '" + bn_momentum + "' is not a number or 'none'");
        }
    }
    const auto known = [](const std::vector<std::string>& names, const std::string& v) {
        return std::find(names.begin(), names.end(), v) != names.end();
    };
    if (!is_valid_dataset_name(t.dataset))
        fail(command, kUsageError, "--dataset: unknown data set '" + t.dataset + "' (see bnlab data list)");
    if (!known(model_names(), t.model.arch)) fail(command, kUsageError, "--model: unknown model '" + t.model.arch + "'");
    if (!known(norm_names(), t.model.norm)) fail(command, kUsageError, "--norm: unknown norm '" + t.model.norm + "'");
    try {
        t.validate();
    } catch (const Error& e) {
        fail(command, kUsageError, e.what());
    }
}

}  // namespace bnlab::cli
