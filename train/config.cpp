#include "train/config.h"

#include <fmt/format.h>

#include <cmath>
#include <type_traits>

#include "core/error.h"
#include "core/json_integer.h"
#include "core/parallel.h"

namespace bnlab {

const std::vector<std::string>& optimizer_names() {
    static const std::vector<std::string> names{"sgd", "adam", "adamw"};
    return names;
}

const std::vector<std::string>& schedule_names() {
    static const std::vector<std::string> names{"constant", "step", "cosine"};
    return names;
}

void TrainConfig::validate() const {
    const auto require = [](bool ok, const char* field, const std::string& problem) {
        if (!ok) throw FieldError(field, problem);
    };
    validate_model_config(model);
    require_choice("optimizer", "optimizer", optimizer, optimizer_names());
    require_choice("schedule", "schedule", schedule, schedule_names());
    require(std::isfinite(lr) && lr > 0, "lr", fmt::format("must be > 0, got {}", lr));
    require(momentum >= 0 && momentum < 1, "momentum", fmt::format("must be in [0, 1), got {}", momentum));
    require(std::isfinite(weight_decay) && weight_decay >= 0, "weight_decay",
            fmt::format("must be finite and >= 0, got {}", weight_decay));
    require(batch_size >= 1, "batch_size", fmt::format("must be >= 1, got {}", batch_size));
    require(epochs >= 1 || steps >= 1, "epochs", fmt::format("must be >= 1 when steps is 0, got {}", epochs));
    require(steps >= 0, "steps", fmt::format("must be >= 0, got {}", steps));
    require(eval_every >= 0, "eval_every", fmt::format("must be >= 0, got {}", eval_every));
    require(train_limit >= 0, "train_limit", fmt::format("must be >= 0, got {}", train_limit));
    require(test_limit >= 0, "test_limit", fmt::format("must be >= 0, got {}", test_limit));
    require(warmup_steps >= 0, "warmup_steps", fmt::format("must be >= 0, got {}", warmup_steps));
    require(unnormalized_lr >= 0 && std::isfinite(unnormalized_lr), "unnormalized_lr",
            fmt::format("must be finite and >= 0 (0: the same as lr), got {}", unnormalized_lr));
    require(unnormalized_lr == 0 || lr > 0, "unnormalized_lr", "needs lr > 0 (it is applied as a ratio to lr)");
    require(clip_grad_norm >= 0, "clip_grad_norm", fmt::format("must be >= 0, got {}", clip_grad_norm));
    require(threads >= 0 && threads <= kMaxThreads, "threads",
            fmt::format("must be in [0, {}] (0: all cores), got {}", kMaxThreads, threads));
    const std::optional<double>& bn_momentum = model.batch_norm.momentum;
    require(!bn_momentum || (*bn_momentum >= 0 && *bn_momentum <= 1), "bn_momentum",
            fmt::format("must be in [0, 1] or none, got {}", bn_momentum.value_or(0)));
    require(model.gn_groups >= 1, "gn_groups", fmt::format("must be >= 1, got {}", model.gn_groups));
    require(ranks >= 1, "ranks", fmt::format("must be >= 1, got {}", ranks));
    require(batch_size >= ranks, "batch_size",
            fmt::format("{} cannot be shared by {} ranks (each needs at least one sample)", batch_size, ranks));
    require_choice("bn_sync", "bn_sync mode", bn_sync, {"none", "all"});
    require(model.batch_norm.ghost_batch_size >= 0, "bn_ghost_batch_size",
            fmt::format("must be >= 0 (0: off), got {}", model.batch_norm.ghost_batch_size));
    require(model.batch_norm.ghost_batch_size == 0 || bn_sync == "none", "bn_ghost_batch_size",
            "ghost batches and bn_sync all exclude each other");
    require(model.init_scale > 0, "init_scale", fmt::format("must be > 0, got {}", model.init_scale));
    require(model.dropout >= 0 && model.dropout < 1, "dropout", fmt::format("must be in [0, 1), got {}", model.dropout));
}

nlohmann::json to_json(const TrainConfig& c) {
    const BatchNormOptions& bn = c.model.batch_norm;
    return {
        {"dataset", c.dataset},
        {"data_dir", c.data_dir},
        {"train_limit", c.train_limit},
        {"test_limit", c.test_limit},
        {"augment", c.augment},
        {"model", c.model.arch},
        {"norm", c.model.norm},
        {"norm_after_activation", c.model.norm_after_activation},
        {"activation", c.model.activation},
        {"mlp_hidden_layers", c.model.mlp_hidden_layers},
        {"mlp_width", c.model.mlp_width},
        {"depth", c.model.depth},
        {"width", c.model.width},
        {"gn_groups", c.model.gn_groups},
        {"init_scale", c.model.init_scale},
        {"init", c.model.init},
        {"dropout", c.model.dropout},
        {"bn_eps", bn.eps},
        {"bn_momentum", bn.momentum ? nlohmann::json(*bn.momentum) : nlohmann::json(nullptr)},
        {"bn_ghost_batch_size", bn.ghost_batch_size},
        {"optimizer", c.optimizer},
        {"lr", c.lr},
        {"momentum", c.momentum},
        {"nesterov", c.nesterov},
        {"weight_decay", c.weight_decay},
        {"unnormalized_lr", c.unnormalized_lr},
        {"schedule", c.schedule},
        {"warmup_steps", c.warmup_steps},
        {"clip_grad_norm", c.clip_grad_norm},
        {"batch_size", c.batch_size},
        {"epochs", c.epochs},
        {"steps", c.steps},
        {"eval_every", c.eval_every},
        {"seed", c.seed},
        {"threads", c.threads},
        {"ranks", c.ranks},
        {"bn_sync", c.bn_sync},
    };
}

TrainConfig config_from_json(const nlohmann::json& j) {
    TrainConfig c;
    const nlohmann::json defaults = to_json(c);
    if (!j.is_object()) throw Error("config: expected a JSON object");
    for (const auto& [key, value] : j.items())
        if (!defaults.contains(key)) throw Error("config: unknown field '" + key + "'");
    const auto get = [&](const char* key, auto& field) {
        if (!j.contains(key)) return;
        using Field = std::remove_reference_t<decltype(field)>;
        try {
            if constexpr (std::is_integral_v<Field> && !std::is_same_v<Field, bool>) field = json_integer<Field>(j.at(key));
            else j.at(key).get_to(field);
        } catch (const nlohmann::json::exception& e) {
            throw Error(fmt::format("config: field '{}': {}", key, e.what()));
        } catch (const Error& e) {
            throw Error(fmt::format("config: field '{}': {}", key, e.what()));
        }
    };
    get("dataset", c.dataset);
    get("data_dir", c.data_dir);
    get("train_limit", c.train_limit);
    get("test_limit", c.test_limit);
    get("augment", c.augment);
    get("model", c.model.arch);
    get("norm", c.model.norm);
    get("norm_after_activation", c.model.norm_after_activation);
    get("activation", c.model.activation);
    get("mlp_hidden_layers", c.model.mlp_hidden_layers);
    get("mlp_width", c.model.mlp_width);
    get("depth", c.model.depth);
    get("width", c.model.width);
    get("gn_groups", c.model.gn_groups);
    get("init_scale", c.model.init_scale);
    get("init", c.model.init);
    get("dropout", c.model.dropout);
    get("bn_eps", c.model.batch_norm.eps);
    get("bn_ghost_batch_size", c.model.batch_norm.ghost_batch_size);
    if (j.contains("bn_momentum")) {
        if (j["bn_momentum"].is_null()) c.model.batch_norm.momentum = std::nullopt;
        else c.model.batch_norm.momentum = j["bn_momentum"].get<double>();
    }
    get("optimizer", c.optimizer);
    get("lr", c.lr);
    get("momentum", c.momentum);
    get("nesterov", c.nesterov);
    get("weight_decay", c.weight_decay);
    get("unnormalized_lr", c.unnormalized_lr);
    get("schedule", c.schedule);
    get("warmup_steps", c.warmup_steps);
    get("clip_grad_norm", c.clip_grad_norm);
    get("batch_size", c.batch_size);
    get("epochs", c.epochs);
    get("steps", c.steps);
    get("eval_every", c.eval_every);
    get("seed", c.seed);
    get("threads", c.threads);
    get("ranks", c.ranks);
    get("bn_sync", c.bn_sync);
    return c;
}

}  // namespace bnlab
