// eval and predict on a plain state_dict (a safetensors file without bnlab metadata, with
// PyTorch's torch.nn.Sequential names), through the built binary on the real Fashion-MNIST.
#include <stb/stb_image_write.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "core/safetensors.h"
#include "data_test_util.h"

using namespace bnlab;
using namespace bnlab::test;

namespace {

std::string quoted(const fs::path& path) { return fmt::format("'{}'", path.string()); }

// The lines of `text` from the first one starting with `from` on.
std::string from_line(const std::string& text, const std::string& from) {
    const size_t at = text.find("\n" + from);
    return at == std::string::npos ? "" : text.substr(at + 1);
}

// `model` rewritten without its bnlab metadata, every name prefixed with `prefix`.
void write_plain(const fs::path& model, const fs::path& plain, const std::string& prefix = "") {
    const TensorFile own = read_safetensors(model.string());
    TensorFile file;
    for (const auto& [name, t] : own.f32) file.f32[prefix + name] = t;
    for (const auto& [name, t] : own.i64) file.i64[prefix + name] = t;
    write_safetensors(plain.string(), file);
}

}  // namespace

TEST_CASE("eval and predict on a plain state_dict give what bnlab's own model file gives", "[cli][eval][plain]") {
    TempDir dir;
    const fs::path run = dir / "run";
    const CommandResult train = run_bnlab("train --model mlp --norm bn --limit 2000 --test-limit 200 --epochs 1 "
                                          "--threads 1 --out " + quoted(run));
    INFO(train.output);
    REQUIRE(train.exit_code == 0);
    const fs::path own = run / "model.safetensors";
    write_plain(own, dir / "plain.safetensors");
    write_plain(own, dir / "parallel.safetensors", "module.");  // torch.nn.DataParallel's names
    REQUIRE(read_safetensors((dir / "plain.safetensors").string()).metadata.empty());

    const std::string flags = " --limit 1000 --threads 1";
    const CommandResult reference = run_bnlab("eval " + quoted(own) + flags);
    INFO(reference.output);
    REQUIRE(reference.exit_code == 0);
    const std::string expected = from_line(reference.output, "loss");
    REQUIRE_THAT(expected, Catch::Contains("accuracy  0."));
    for (const char* file : {"plain.safetensors", "parallel.safetensors"}) {
        const CommandResult plain =
            run_bnlab("eval " + quoted(dir / file) + " --model mlp --norm bn --dataset fashion-mnist" + flags);
        INFO(file << "\n" << plain.output);
        CHECK(plain.exit_code == 0);
        CHECK(from_line(plain.output, "loss") == expected);
    }

    std::vector<uint8_t> grey(28 * 28);
    for (size_t i = 0; i < grey.size(); ++i) grey[i] = static_cast<uint8_t>(i * 7 % 256);
    const fs::path image = dir / "x.png";
    REQUIRE(stbi_write_png(image.c_str(), 28, 28, 1, grey.data(), 28));
    const CommandResult predicted_own = run_bnlab("predict " + quoted(own) + " " + quoted(image));
    const CommandResult predicted_plain =
        run_bnlab("predict " + quoted(dir / "plain.safetensors") + " " + quoted(image) + " --model mlp --norm bn --threads 1");
    INFO(predicted_own.output << "\n" << predicted_plain.output);
    CHECK(predicted_plain.exit_code == 0);
    CHECK(from_line(predicted_plain.output, image.string()) == from_line(predicted_own.output, image.string()));

    // What the flags get wrong is a usage error naming the problem.
    const CommandResult no_arch = run_bnlab("eval " + quoted(dir / "plain.safetensors"));
    CHECK(no_arch.exit_code == 2);
    CHECK_THAT(no_arch.output, Catch::Contains("has no bnlab metadata (a plain state_dict): say its architecture with --model"));
    const CommandResult wrong_norm = run_bnlab("eval " + quoted(dir / "plain.safetensors") + " --model mlp --norm none");
    CHECK(wrong_norm.exit_code == 2);
    CHECK_THAT(wrong_norm.output, Catch::Contains("plain.safetensors: missing key '1.bias'"));
    const CommandResult disagrees = run_bnlab("eval " + quoted(own) + " --model mnist-cnn");
    CHECK(disagrees.exit_code == 2);
    CHECK_THAT(disagrees.output, Catch::Contains("is a bnlab model of mlp with norm bn"));
}
