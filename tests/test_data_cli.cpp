// `bnlab data ...` through the built binary: output, exit codes (0 ok, 1 failure, 2 usage).
#include <stb/stb_image.h>

#include <catch2/catch.hpp>

#include "data_test_util.h"

using namespace bnlab::test;

namespace {

// Runs `bnlab data ARGS` with $BNLAB_DATA unset, so only --data-dir and the defaults are searched.
CommandResult bnlab_data(const std::string& args, const std::string& env = "") {
    return run_bnlab("data " + args, env);
}

}  // namespace

TEST_CASE("bnlab data list and info show what was found", "[data][cli]") {
    TempDir root;
    write_tiny_mnist(root.path());
    const std::string dir = " --data-dir '" + root.path().string() + "'";
    const CommandResult list = bnlab_data("list" + dir);
    CHECK(list.exit_code == 0);
    CHECK_THAT(list.output, Catch::Contains("train  " + (root / "mnist").string()) &&
                                Catch::Contains("cifar100") && Catch::Contains("not found") &&
                                Catch::Contains("folder:PATH"));
    const CommandResult info = bnlab_data("info mnist" + dir);
    CHECK(info.exit_code == 0);
    CHECK_THAT(info.output, Catch::Contains("mnist/train: 12 images of 1x4x3") &&
                                Catch::Contains("mnist/test: 5 images of 1x4x3") && Catch::Contains("pixel mean") &&
                                Catch::Matches("(.|\\n)*  1 1 +2\\n(.|\\n)*"));  // class 1 has 2 of the 12
    const CommandResult test_only = bnlab_data("info mnist --split test" + dir);
    CHECK_THAT(test_only.output, !Catch::Contains("mnist/train"));
}

TEST_CASE("bnlab data usage errors exit with code 2", "[data][cli]") {
    const auto check_usage = [](const std::string& args, const std::string& message) {
        const CommandResult result = bnlab_data(args);
        INFO("bnlab data " << args << "\n" << result.output);
        CHECK(result.exit_code == 2);
        CHECK_THAT(result.output, Catch::Contains(message));
    };
    check_usage("info imagenet", "bnlab data info: unknown data set 'imagenet' (known: fashion-mnist, mnist");
    check_usage("info mnist --split validation", "unknown split 'validation': use train or test");
    check_usage("info", "missing the data set NAME");
    check_usage("info mnist --bogus", "unknown option '--bogus'");
    check_usage("show mnist", "missing --out FILE.png");
    check_usage("show mnist --out x.png --zoom 0", "--zoom in [1, 16]");
    check_usage("verify folder:/tmp", "folder data sets have no published checksums");
    check_usage("download cifar10", "missing --to DIR");
    check_usage("", "missing a subcommand: list, info, show, verify or download");
}

TEST_CASE("bnlab data: missing data is a usage error (exit code 2), corrupt data a failure (1)", "[data][cli]") {
    TempDir root;
    const std::string dir = " --data-dir '" + root.path().string() + "'";
    const CommandResult missing = bnlab_data("info kmnist" + dir);
    CHECK(missing.exit_code == 2);
    for (const std::string command : {"show kmnist --out x.png", "verify kmnist"}) {
        const CommandResult r = bnlab_data(command + dir);
        INFO(command << "\n" << r.output);
        CHECK(r.exit_code == 2);
        CHECK_THAT(r.output, Catch::Contains("data set 'kmnist'") && Catch::Contains("not found"));
    }
    CHECK_THAT(missing.output, Catch::Contains("data set 'kmnist' (train split) not found. Looked in:") &&
                                   Catch::Contains((root / "kmnist").string()) &&
                                   Catch::Contains("bnlab data download kmnist --to DIR") &&
                                   Catch::Contains("then pass --data-dir DIR"));
    if (!fs::exists("/usr/share/datasets/fashion-mnist"))
        CHECK_THAT(bnlab_data("info fashion-mnist" + dir).output, Catch::Contains("apt install dataset-fashion-mnist"));
    // An incomplete CIFAR folder: the command line says which flag loads what is there.
    write_bytes(root / "cifar10/cifar-10-batches-bin/data_batch_1.bin", cifar_records({{1}}));
    const CommandResult incomplete = bnlab_data("info cifar10 --split train" + dir);
    CHECK(incomplete.exit_code == 2);
    CHECK_THAT(incomplete.output, Catch::Contains("split is incomplete, missing: data_batch_2.bin") &&
                                      Catch::Contains("(--partial loads the files present)"));
    CHECK(bnlab_data("info cifar10 --split train --partial" + dir).exit_code == 0);
    write_tiny_mnist(root.path());
    write_bytes(root / "mnist/t10k-labels-idx1-ubyte.gz", {0, 0, 8, 1, 0, 0, 0, 2, 1});  // says 2 labels, holds 1
    const CommandResult corrupt = bnlab_data("info mnist --split test" + dir);
    CHECK(corrupt.exit_code == 2);  // a corrupt data set is a usage error, as in train and eval (README)
    CHECK_THAT(corrupt.output, Catch::Contains((root / "mnist/t10k-labels-idx1-ubyte.gz").string() + ": truncated"));
    const CommandResult verify = bnlab_data("verify mnist" + dir);
    CHECK(verify.exit_code == 1);
    CHECK_THAT(verify.output, Catch::Contains("MISMATCH   train-images-idx3-ubyte.gz") &&
                                  Catch::Contains("0 verified, 4 missing or wrong"));
}

TEST_CASE("bnlab data show writes a PNG grid", "[data][cli]") {
    TempDir root;
    write_tiny_mnist(root.path());
    const fs::path png = root / "grid.png";
    const CommandResult show = bnlab_data("show mnist --count 10 --columns 4 --zoom 2 --out '" + png.string() +
                                          "' --data-dir '" + root.path().string() + "'");
    CHECK(show.exit_code == 0);
    CHECK_THAT(show.output, Catch::Contains("wrote " + png.string() + ": 10 images of mnist/train"));
    int width = 0, height = 0, channels = 0;
    REQUIRE(stbi_info(png.c_str(), &width, &height, &channels));
    // 4 columns of 3*2 px + margins 4; 3 rows of 4*2 px + a 12 px label strip + margins.
    CHECK(width == 4 + 4 * (6 + 4));
    CHECK(height == 4 + 3 * (8 + 12 + 4));
    CHECK(channels == 3);
    CHECK_FALSE(fs::exists(png.string() + ".tmp"));
}

TEST_CASE("bnlab data download: no curl, offline, and a working mirror", "[data][cli]") {
    TempDir root;
    const std::string to = " --to '" + (root / "out").string() + "'";
    const CommandResult no_curl = bnlab_data("download mnist" + to, "PATH=" + (root / "empty").string());
    CHECK(no_curl.exit_code == 1);
    CHECK_THAT(no_curl.output, Catch::Contains("needs curl, which is not on PATH"));

    // A stand-in curl: fails like curl without network (exit 6), or copies from a local mirror.
    const fs::path bin = root / "bin";
    const auto write_curl = [&](const std::string& body) {
        const std::string script = "#!/bin/sh\nout=''; url=''\nwhile [ $# -gt 0 ]; do case \"$1\" in\n"
                                   "  -o) out=\"$2\"; shift 2;; --retry|--connect-timeout) shift 2;;\n"
                                   "  -*) shift;; *) url=\"$1\"; shift;; esac; done\n" + body + "\n";
        write_bytes(bin / "curl", std::vector<uint8_t>(script.begin(), script.end()));
        fs::permissions(bin / "curl", fs::perms::owner_all);
    };
    const std::string path = "PATH='" + bin.string() + ":/usr/bin:/bin'";
    write_curl("echo \"curl: (6) Could not resolve host\" >&2; exit 6");
    const CommandResult offline = bnlab_data("download mnist" + to, path);
    CHECK(offline.exit_code == 1);
    CHECK_THAT(offline.output, Catch::Contains("could not download train-images-idx3-ubyte.gz") &&
                                   Catch::Contains("curl exit code 6") && Catch::Contains("are you offline?"));

    const fs::path mirror = shared_data() / "mnist";
    if (!fs::is_directory(mirror)) {
        WARN("skipped the download from a local mirror: " << mirror.string() << " not found");
        return;
    }
    write_curl("cp \"" + mirror.string() + "/$(basename \"$url\")\" \"$out\"");
    const CommandResult downloaded = bnlab_data("download mnist" + to, path);
    INFO(downloaded.output);
    CHECK(downloaded.exit_code == 0);
    CHECK_THAT(downloaded.output, Catch::Contains("all files of mnist verified in " + (root / "out/mnist").string()));
    const CommandResult again = bnlab_data("download mnist" + to, path);  // nothing to fetch twice
    CHECK_THAT(again.output, Catch::Contains("train-images-idx3-ubyte.gz already present and correct"));
    CHECK(bnlab_data("info mnist --split test --data-dir '" + (root / "out").string() + "'").exit_code == 0);
}
