#include "apps/summary_command.h"

#include <fmt/format.h>

#include <cstdio>
#include <memory>

#include "apps/cli_common.h"
#include "data/catalog.h"
#include "models/summary.h"
#include "models/zoo.h"

namespace bnlab::cli {
namespace {

struct SummaryArgs {
    TrainConfig config;  // the model fields and the data set
    std::string norm_position = "before";
};

// The images and classes of a data set: known ones from the catalog, an image folder by loading it.
InputSpec input_of(const CLI::App* cmd, const TrainConfig& config) {
    if (const DatasetSpec* spec = find_spec(config.dataset)) {
        const bool gray = spec->format == DataFormat::idx;
        return {gray ? 1 : 3, gray ? 28 : 32, gray ? 28 : 32, static_cast<int64_t>(spec->class_names.size())};
    }
    const Dataset data = load_split(cmd, config.dataset, "train", {.data_dir = config.data_dir});
    return {data.channels, data.height, data.width, static_cast<int64_t>(data.class_names.size())};
}

void run_summary(const CLI::App* cmd, const SummaryArgs& args) {
    const ModelConfig& m = args.config.model;
    const InputSpec input = input_of(cmd, args.config);
    std::shared_ptr<Sequential> model;
    std::string spec;
    check_usage(cmd, [&] {
        model = make_model(m, input, args.config.seed);
        spec = resolved_spec(m);
    });
    std::printf("%s (norm %s) for %s: %s\n", m.arch.c_str(), m.norm.c_str(), args.config.dataset.c_str(), spec.c_str());
    std::fputs(format_summary(summarize(*model, {input.channels, input.height, input.width})).c_str(), stdout);
}

}  // namespace
}  // namespace bnlab::cli

void add_summary_command(CLI::App& app) {
    using namespace bnlab::cli;
    using bnlab::norm_names;
    CLI::App* cmd = app.add_subcommand("summary", "a model's layers: output shape, parameters and forward FLOPs per layer, and totals");
    auto args = std::make_shared<SummaryArgs>();
    bnlab::TrainConfig& t = args->config;
    add_model_flags(cmd, t.model);
    cmd->add_option(flag("norm"), t.model.norm, "normalization where the model says norm")
        ->check(one_of("norm", norm_names()))
        ->capture_default_str();
    cmd->add_option(flag("norm_after_activation"), args->norm_position, "before or after the activation")->capture_default_str();
    cmd->add_option(flag("gn_groups"), t.model.gn_groups, "GroupNorm groups")->capture_default_str();
    cmd->add_option(flag("dataset"), t.dataset, "the data set whose images and classes the model takes")
        ->check(one_of("data set", bnlab::dataset_choices(), bnlab::is_valid_dataset_name))
        ->capture_default_str();
    cmd->add_option(flag("data_dir"), t.data_dir, "folder searched first for an image folder data set");
    cmd->allow_extras();
    cmd->callback([cmd, args] {
        reject_extras(cmd);
        args->config.model.norm_after_activation = is_after_activation(cmd, args->norm_position);
        check_usage(cmd, [&] { bnlab::validate_model_config(args->config.model); });
        run_guarded(cmd, [&] { run_summary(cmd, *args); });
    });
}
