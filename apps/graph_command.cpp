#include "apps/graph_command.h"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <memory>

#include "apps/cli_common.h"
#include "core/atomic_file.h"
#include "core/ops.h"
#include "core/tape.h"
#include "core/tape_graph.h"
#include "data/catalog.h"
#include "data/loader.h"
#include "models/zoo.h"

namespace bnlab::cli {
namespace {

struct GraphArgs {
    ModelConfig model{.arch = "mlp"};
    std::string dataset = "fashion-mnist", data_dir, out = "graph.dot";
    int64_t batch_size = 4;
    uint64_t seed = 0;
    bool grad_norms = false;
};

// What --out's extension asks for: "dot", or a format Graphviz's dot renders ("svg", "png").
std::string format_of(const std::string& out) {
    const std::string ext = std::filesystem::path(out).extension().string();
    return ext.empty() ? "dot" : ext.substr(1);
}

void run_graph(const CLI::App* cmd, const GraphArgs& args) {
    const Dataset data = load_split(cmd, args.dataset, "test", {.data_dir = args.data_dir});
    if (args.batch_size > data.size())
        fail(cmd, kUsageError, fmt::format("{}: {} is more than the {} images of {}", flag("batch_size"), args.batch_size,
                                           data.size(), data.name));
    const InputSpec input{data.channels, data.height, data.width, static_cast<int64_t>(data.class_names.size())};
    const auto model = make_model(args.model, input, args.seed);
    model->train();
    // The first batch_size test images: (B, C, H, W) normalized -> logits (B, classes) -> loss.
    const auto n = static_cast<size_t>(args.batch_size);
    const Tensor images = normalize_images(std::span(data.pixels).first(n * static_cast<size_t>(data.image_size())),
                                           data.channels, data.height, data.width, data.mean, data.std);
    const std::vector<int32_t> labels(data.labels.begin(), data.labels.begin() + static_cast<std::ptrdiff_t>(n));
    std::map<const TensorImpl*, std::string> names;
    for (const auto& [name, p] : model->named_parameters()) names[p.impl()] = name;
    Tape tape;
    const Tensor loss = cross_entropy(model->forward(images), labels);
    TapeGraph graph = capture_graph(tape, names);
    graph.retain_grads();
    tape.backward(loss);

    const std::string title = fmt::format("{} (norm {}) on {} images of {}: {} ops, {} leaves", args.model.arch,
                                          args.model.norm, args.batch_size, args.dataset, graph.nodes.size() - graph.leaf_count(),
                                          graph.leaf_count());
    const std::string format = format_of(args.out);
    const std::string dot_path = format == "dot" ? args.out : args.out + ".dot";
    write_text_atomically(dot_path, to_dot(graph, args.grad_norms, title));
    std::printf("%s\nwrote %s\n", title.c_str(), dot_path.c_str());
    if (format == "dot") return;
    if (std::system("command -v dot > /dev/null 2>&1") != 0)
        fail(cmd, kRuntimeFailure, "Graphviz's dot is not installed (apt install graphviz): only " + dot_path + " was written");
    const std::string render = fmt::format("dot -T{} '{}' -o '{}'", format, dot_path, args.out);
    if (std::system(render.c_str()) != 0) fail(cmd, kRuntimeFailure, "dot failed: " + render);
    std::printf("wrote %s\n", args.out.c_str());
}

}  // namespace
}  // namespace bnlab::cli

void add_graph_command(CLI::App& app) {
    using namespace bnlab::cli;
    CLI::App* cmd = app.add_subcommand("graph", "draw the autodiff tape of one training step (forward + backward) as a graph");
    auto args = std::make_shared<GraphArgs>();
    cmd->add_option(flag("model"), args->model.arch, "network architecture")
        ->check(one_of("model", bnlab::model_names()))
        ->capture_default_str();
    cmd->add_option(flag("norm"), args->model.norm, "normalization after each hidden layer")
        ->check(one_of("norm", bnlab::norm_names()))
        ->capture_default_str();
    cmd->add_option(flag("dataset"), args->dataset, "data set whose first test images form the batch")
        ->check(one_of("data set", bnlab::dataset_choices(), bnlab::is_valid_dataset_name))
        ->capture_default_str();
    cmd->add_option(flag("data_dir"), args->data_dir, "folder searched first for the data set");
    cmd->add_option(flag_names("batch_size"), args->batch_size, "images in the batch")->capture_default_str();
    cmd->add_option(flag("seed"), args->seed, "seed of the initial weights")->capture_default_str();
    cmd->add_flag("--grad-norms", args->grad_norms, "show the norm of the gradient that flowed through each node");
    cmd->add_option("--out", args->out, "FILE.dot, or FILE.svg / FILE.png (rendered with Graphviz's dot, "
                                        "FILE.svg.dot written beside it)")
        ->capture_default_str();
    cmd->allow_extras();
    cmd->callback([cmd, args] {
        reject_extras(cmd);
        if (args->batch_size < 1) fail(cmd, kUsageError, flag("batch_size") + ": must be >= 1");
        const std::string format = format_of(args->out);
        if (format != "dot" && format != "svg" && format != "png")
            fail(cmd, kUsageError, "--out: '" + args->out + "' should end in .dot, .svg or .png");
        run_guarded(cmd, [&] { run_graph(cmd, *args); });
    });
}
