// Issue 17, hostile and careless command lines: every reproducer of the issue that goes
// through `bnlab` ends with a clean message and the README's exit code (0 success, 1 runtime
// failure, 2 usage error: a bad flag, a missing or unreadable data set, 3 diverged), never
// an abort, a hang or a silent wrong result.
#include <stb/stb_image_write.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <ios>
#include <nlohmann/json.hpp>

#include "apps/uncaught.h"
#include "core/error.h"
#include "core/printable.h"
#include "core/safetensors.h"
#include "data_test_util.h"
#include "experiments/plot.h"
#include "models/zoo.h"
#include "tests/synthetic_data.h"
#include "train/model_file.h"
#include "train/trainer.h"

using namespace bnlab;
using namespace bnlab::test;

namespace {

std::string quoted(const fs::path& path) { return fmt::format("'{}'", path.string()); }

// A tiny MNIST (400 + 40 images of 4x3, data_test_util.h) in dir/data, and an mlp trained on it in dir/run.
struct TinyRun {
    TempDir dir;
    fs::path data = dir / "data", run = dir / "run";
    TinyRun() {
        write_tiny_mnist(data, 400, 40);
        const CommandResult train = run_bnlab(fmt::format(
            "train --dataset mnist --data-dir {} --model mlp --norm bn --batch 8 --epochs 1 --threads 1 --out {}", quoted(data), quoted(run)));
        INFO(train.output);
        REQUIRE(train.exit_code == 0);
    }
    std::string data_flags() const { return "--dataset mnist --data-dir " + quoted(data); }
    fs::path model() const { return run / "model.safetensors"; }
};

// A copy of `model` with class names `names` (and, if asked, a NaN weight and a negative running_var).
fs::path edited_model(const fs::path& model, const std::vector<std::string>& names, bool poison = false) {
    TensorFile file = read_safetensors(model.string());
    file.metadata["bnlab.classes"] = nlohmann::json(names).dump();
    if (poison)
        for (auto& [name, tensor] : file.f32) {
            if (name.ends_with("weight") && !name.ends_with(".1.weight")) tensor.data()[0] = NAN;
            if (name.ends_with("running_var")) tensor.data()[0] = -1.0f;
        }
    const fs::path out = model.parent_path() / "edited.safetensors";
    write_safetensors(out.string(), file);
    return out;
}

fs::path grey_png(const fs::path& dir) {
    const fs::path path = dir / "image.png";
    const std::vector<uint8_t> grey(12, 128);
    REQUIRE(stbi_write_png(path.c_str(), 4, 3, 1, grey.data(), 4));
    return path;
}

}  // namespace

TEST_CASE("an exception no command handled is one line naming it (out of memory by name), for exit code 1", "[hostile][cli]") {
    const auto message = [](auto thrower) {
        try {
            thrower();
        } catch (...) {
            return cli::uncaught_message(std::current_exception());
        }
        return std::string("nothing thrown");
    };
    CHECK_THAT(message([] { throw std::bad_alloc(); }), Catch::StartsWith("out of memory"));
    CHECK_THAT(message([] { (void)std::vector<float>(SIZE_MAX / 8); }), Catch::StartsWith("out of memory") ||
                                                                              Catch::StartsWith("internal error"));
    CHECK_THAT(message([] { (void)std::stoll("x12"); }), Catch::StartsWith("not a number: stoll"));
    CHECK_THAT(message([] { (void)std::stoll("99999999999999999999"); }), Catch::StartsWith("value out of range: stoll"));
    CHECK_THAT(message([] { (void)nlohmann::json::parse("{").size(); }), Catch::StartsWith("bad JSON: [json.exception.parse_error"));
    CHECK_THAT(message([] { throw std::ios_base::failure("basic_filebuf::underflow"); }),
               Catch::StartsWith("input/output error: basic_filebuf::underflow"));
    CHECK_THAT(message([] { (void)fs::file_size("/no/such/file"); }), Catch::StartsWith("file system error:"));
    CHECK_THAT(message([] { throw 42; }), Catch::Equals("internal error: an unknown exception"));
}

TEST_CASE("printable and markdown_text: file text never reaches a terminal or a markdown table raw", "[hostile][printable]") {
    CHECK(printable("T-shirt/top") == "T-shirt/top");
    CHECK(printable("caf\xc3\xa9 \xe2\x82\xac") == "caf\xc3\xa9 \xe2\x82\xac");  // UTF-8 kept
    CHECK(printable("\x1b[2Jcat\nfake line\r\t\\") == "\\x1b[2Jcat\\nfake line\\r\\t\\\\");
    CHECK(printable("a\xc2\x9b" "31mb") == "a\\u009b31mb");  // C1 CSI
    CHECK(printable("\xff\xc3") == "\\xff\\xc3");           // not UTF-8
    CHECK(printable(std::string("a\0b", 3)) == "a\\x00b");
    CHECK(markdown_text("1.5x | <script>alert(1)</script>\n## forged") ==
          "1.5x \\| &lt;script&gt;alert(1)&lt;/script&gt; ## forged");
    CHECK(markdown_text("[link](http://x) *b* _i_ `c` a\\b & \x1b") ==
          "\\[link\\](http://x) \\*b\\* \\_i\\_ \\`c\\` a\\\\b &amp; \\x1b");
}

TEST_CASE("class names from a model file are printed escaped by predict and eval", "[hostile][cli]") {
    TinyRun tiny;
    std::vector<std::string> names{"\x1b[2J\x1b[1;1Hpwned", "a\nforged line"};
    for (int k = 2; k < 10; ++k) names.push_back(std::to_string(k));
    const fs::path model = edited_model(tiny.model(), names);
    const CommandResult predict = run_bnlab(fmt::format("predict {} {} --top-k 10", quoted(model), quoted(grey_png(tiny.dir.path()))));
    INFO(predict.output);
    CHECK(predict.exit_code == 0);
    CHECK(predict.output.find('\x1b') == std::string::npos);
    CHECK(predict.output.find("\\x1b[2J\\x1b[1;1Hpwned") != std::string::npos);
    CHECK(predict.output.find("a\\nforged line") != std::string::npos);
    // eval: the names differ from the data's, and the message naming them is escaped too.
    const CommandResult eval = run_bnlab(fmt::format("eval {} {}", quoted(model), tiny.data_flags()));
    INFO(eval.output);
    CHECK(eval.exit_code == 2);
    CHECK(eval.output.find('\x1b') == std::string::npos);
    CHECK(eval.output.find("\\x1b[2J") != std::string::npos);
}

TEST_CASE("predict and eval warn about NaN weights and a negative running_var", "[hostile][cli]") {
    TinyRun tiny;
    std::vector<std::string> names;
    for (int k = 0; k < 10; ++k) names.push_back(std::to_string(k));
    const fs::path bad = edited_model(tiny.model(), names, true);
    REQUIRE(model_warnings(load_model(tiny.model().string())).empty());
    for (const std::string& command : {fmt::format("predict {} {}", quoted(bad), quoted(grey_png(tiny.dir.path()))),
                                       fmt::format("eval {} {}", quoted(bad), tiny.data_flags())}) {
        const CommandResult r = run_bnlab(command);
        INFO(command << "\n" << r.output);
        CHECK(r.exit_code == 0);  // a warning, not an error: README, exit codes
        CHECK(r.output.find("warning: " + bad.string() + ": ") != std::string::npos);
        CHECK(r.output.find("values are NaN or infinite") != std::string::npos);
        CHECK(r.output.find("running_var: 1 negative variance") != std::string::npos);
    }
    // Sound model: no warning.
    const CommandResult sound = run_bnlab(fmt::format("eval {} {}", quoted(tiny.model()), tiny.data_flags()));
    CHECK(sound.output.find("warning") == std::string::npos);
}

TEST_CASE("eval --batch INT64_MAX evaluates every image in one pass", "[hostile][cli]") {
    TinyRun tiny;
    const CommandResult r = run_bnlab(fmt::format("eval {} {} --batch 9223372036854775807", quoted(tiny.model()), tiny.data_flags()));
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(r.output.find("40 of 40 images") != std::string::npos);
    CHECK(r.output.find("nan") == std::string::npos);
}

TEST_CASE("exit codes: a bad flag value or an unreadable data set is 2 in every command", "[hostile][cli]") {
    TinyRun tiny;
    TempDir bad;  // the tiny MNIST with its training images cut short
    write_tiny_mnist(bad.path(), 400, 40);
    const fs::path images = bad / "mnist/train-images-idx3-ubyte.gz";
    fs::resize_file(images, fs::file_size(images) / 2);
    const std::string corrupt = "--dataset mnist --data-dir " + quoted(bad.path());
    const std::string bare = "train --model mlp --out " + quoted(tiny.dir / "out") + " ", train = bare + "--threads 1 --epochs 1 ";
    struct Case {
        std::string args, message;
    };
    const std::vector<Case> cases{
        {"data info mnist --data-dir " + quoted(bad.path()), "train-images-idx3-ubyte.gz"},
        {"data show mnist --out x.png --data-dir " + quoted(bad.path()), "train-images-idx3-ubyte.gz"},
        {train + corrupt, "train-images-idx3-ubyte.gz"},
        {fmt::format("eval {} {} --split train", quoted(tiny.model()), corrupt), "train-images-idx3-ubyte.gz"},
        {train + tiny.data_flags() + " --bn-momentum 1.5 --norm bn", "--bn-momentum: must be in [0, 1]"},
        {train + tiny.data_flags() + " --norm gn --gn-groups 0", "--gn-groups: must be >= 1"},
        {train + tiny.data_flags() + " --norm gn --gn-groups 7", "--gn-groups: 7 does not divide"},
        {train + tiny.data_flags() + " --weight-decay inf", "--weight-decay: must be finite"},
        {train + tiny.data_flags() + " --batch 1000", "1000 is larger than the 400 training samples"},
        {bare + tiny.data_flags() + " --epochs 4611686018427387904", "--epochs: 4611686018427387904 epochs of 3 steps"},
        {bare + tiny.data_flags() + " --threads 100000", "--threads: must be in [0, 1024]"},
        {"claims run gradients --quick --threads 5000", "--threads: must be in [0, 1024]"},
        {"compare --arms bn,bn " + tiny.data_flags(), "--arms: 'bn' is listed twice"},
    };
    for (const Case& c : cases) {
        const CommandResult r = run_bnlab(c.args);
        INFO("bnlab " << c.args << "\n" << r.output);
        CHECK(r.exit_code == 2);
        CHECK(r.output.find(c.message) != std::string::npos);
    }
    CHECK_FALSE(fs::exists("x.png"));
}

TEST_CASE("data show refuses a 38 GB canvas before allocating it", "[hostile][cli]") {
    TempDir dir;
    if (!have("/usr/share/datasets/fashion-mnist", "apt install dataset-fashion-mnist")) return;
    // Under `ulimit -v` 8 GiB (a 4 GiB budget), so that a machine with 100+ GiB also refuses it.
    const CommandResult r = run_shell(fmt::format("ulimit -v 8388608; env -u BNLAB_DATA '{}' data show fashion-mnist --count 60000 "
                                                  "--columns 1 --zoom 16 --out {}", BNLAB_BINARY, quoted(dir / "grid.png")));
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("grid.png: the grid canvas: needs") != std::string::npos);
    CHECK(r.output.find("more than the memory budget") != std::string::npos);
    CHECK_FALSE(fs::exists(dir / "grid.png"));
}

TEST_CASE("claims index: markdown from summary.json is escaped, and a FIFO, a folder or a huge number there is an error",
          "[hostile][cli][claims]") {
    TempDir dir;
    fs::create_directories(dir / "convergence");
    const nlohmann::json summary = {{"verdict", "holds</td><script>x()</script>"},
                                    {"key_result", "1.5x | forged cell\n\n# Forged heading"},
                                    {"profile", "quick"},
                                    {"wall_seconds", 60.0}};
    std::ofstream(dir / "convergence/summary.json") << summary.dump();
    const CommandResult ok = run_bnlab("claims index --out " + quoted(dir.path()));
    INFO(ok.output);
    REQUIRE(ok.exit_code == 0);
    const std::string index = [&] {
        std::ifstream in(dir / "index.md");
        return std::string(std::istreambuf_iterator<char>(in), {});
    }();
    CHECK(index.find("<script>") == std::string::npos);
    CHECK(index.find("\n# Forged") == std::string::npos);
    CHECK(index.find("**holds&lt;/td&gt;&lt;script&gt;x()&lt;/script&gt;**") != std::string::npos);
    CHECK(index.find("1.5x \\| forged cell  # Forged heading") != std::string::npos);

    // fuzz/corpus/json/summary-threads-huge.json (fuzz_json): a float far outside int's range
    // was converted with a C++ cast (undefined behaviour, UBSan stopped there).
    std::ofstream(dir / "convergence/summary.json", std::ios::trunc)
        << R"({"model": "mlp", "wall_seconds": 12.5, "threads": 6.66666666e134})";
    const CommandResult huge = run_bnlab("claims index --out " + quoted(dir.path()));
    INFO(huge.output);
    CHECK(huge.exit_code == 1);
    CHECK(huge.output.find("summary.json: field 'threads': expected an integer in [-2147483648, 2147483647], got "
                           "6.66666666e+134") != std::string::npos);

    fs::remove(dir / "convergence/summary.json");
    REQUIRE(::mkfifo((dir / "convergence/summary.json").c_str(), 0600) == 0);
    const CommandResult fifo = run_shell(fmt::format("timeout 20 '{}' claims index --out {}", BNLAB_BINARY, quoted(dir.path())));
    INFO(fifo.output);
    CHECK(fifo.exit_code == 1);  // 124 if it blocked
    CHECK(fifo.output.find("summary.json: cannot read the claim summary: not a regular file") != std::string::npos);

    fs::remove(dir / "convergence/summary.json");
    fs::create_directory(dir / "convergence/summary.json");
    const CommandResult folder = run_bnlab("claims index --out " + quoted(dir.path()));
    INFO(folder.output);
    CHECK(folder.exit_code == 1);
    CHECK(folder.output.find("summary.json: cannot read the claim summary: is a directory") != std::string::npos);
}

TEST_CASE("a checkpoint with corrupt metadata is an Error naming the file", "[hostile][checkpoint]") {
    TempDir dir;
    const Dataset train = quadrants(64, 1), test = quadrants(32, 2);
    Trainer trainer(small_config("mlp", "bn"), train, test);
    const std::string path = (dir / "checkpoint.safetensors").string();
    trainer.save_checkpoint(path);
    REQUIRE_NOTHROW(trainer.load_checkpoint(path));
    for (const auto& [key, value, problem] :
         std::vector<std::tuple<std::string, std::string, std::string>>{{"bnlab.step", "12x", "bnlab.step is '12x'"},
                                                                        {"bnlab.step", "99999999999999999999", "not an integer"},
                                                                        {"bnlab.window", "1 2", "bnlab.window"},
                                                                        {"bnlab.config", "{", "bnlab.config is not JSON"}}) {
        TensorFile file = read_safetensors(path);
        file.metadata[key] = value;
        const std::string edited = (dir / "edited.safetensors").string();
        write_safetensors(edited, file);
        CHECK_THROWS_WITH(trainer.load_checkpoint(edited), Catch::Contains(edited) && Catch::Contains(problem));
    }
}

TEST_CASE("plots are written through a fresh temporary name, never a planted link", "[hostile][plot]") {
    TempDir dir;
    const fs::path victim = dir / "victim.txt";
    std::ofstream(victim) << "keep me";
    fs::create_symlink(victim, dir / "curve.png.tmp");  // the name bnlab used to write through
    PlotSpec spec{"t", "x", "y", {band_curve("a", {1, 2, 3}, {{0.1, 0.2, 0.3}, {0.2, 0.3, 0.4}})}};
    const std::string problem = plot_bands(dir.path().string(), "curve", spec);
    if (problem.find("gnuplot not found") != std::string::npos) return;  // `make deps` installs it
    REQUIRE(problem.empty());
    CHECK(fs::file_size(dir / "curve.png") > 100);
    std::ifstream in(victim);
    CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == "keep me");
    for (const auto& entry : fs::directory_iterator(dir.path()))
        CHECK(entry.path().filename().string().find(".tmp-") == std::string::npos);
}
