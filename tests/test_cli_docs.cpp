// The generated man page and bash completion against what `bnlab --help` says: every
// subcommand, and every flag of every subcommand, must be in both.
#include <catch2/catch.hpp>

#include <sstream>

#include "tests/test_util.h"

using namespace bnlab::test;

namespace {

const std::string kBinary = BNLAB_BINARY;

// The names in a CLI11 help text's section (e.g. "Subcommands:"): the first word of each
// indented line until the next unindented line.
std::vector<std::string> help_section(const std::string& help, const std::string& title) {
    std::vector<std::string> names;
    std::istringstream in(help);
    bool inside = false;
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line[0] != ' ') inside = line.starts_with(title);
        else if (inside && line.size() > 2 && line[2] != ' ') names.push_back(line.substr(2, line.find(' ', 2) - 2));
    }
    return names;
}

// Every flag spelling in a help text's option lines ("  -h,--help", "  --batch-size,--batch INT").
std::vector<std::string> help_flags(const std::string& help) {
    std::vector<std::string> flags;
    for (const std::string& entry : help_section(help, "Options:")) {
        std::istringstream names(entry);
        for (std::string name; std::getline(names, name, ',');)
            if (name.starts_with("-")) flags.push_back(name);
    }
    return flags;
}

std::string troff_dashes(const std::string& flag) {
    std::string out;
    for (char c : flag) out += c == '-' ? std::string("\\-") : std::string(1, c);
    return out;
}

}  // namespace

TEST_CASE("man page and bash completion list every subcommand and every flag", "[cli][docs]") {
    const CommandResult man = run_shell(kBinary + " man");
    const CommandResult completion = run_shell(kBinary + " completion bash");
    REQUIRE(man.exit_code == 0);
    REQUIRE(completion.exit_code == 0);
    const std::vector<std::string> commands = help_section(run_shell(kBinary + " --help").output, "Subcommands:");
    REQUIRE(commands.size() >= 7);
    CHECK(std::find(commands.begin(), commands.end(), "man") == commands.end());  // hidden

    // The words completed after `bnlab `: the line  "") words="train compare ..."  of the script.
    const size_t top = completion.output.find("\"\") words=\"");
    REQUIRE(top != std::string::npos);
    const std::string top_words = " " + completion.output.substr(top + 11, completion.output.find('"', top + 11) - top - 11) + " ";
    size_t flags_checked = 0;
    for (const std::string& command : commands) {
        INFO("bnlab " << command);
        CHECK_THAT(man.output, Catch::Contains(".SS \"bnlab " + command));
        CHECK_THAT(top_words, Catch::Contains(" " + command + " "));
        const std::string help = run_shell(kBinary + " " + command + " --help").output;
        std::vector<std::string> paths = {command};
        for (const std::string& sub : help_section(help, "Subcommands:")) paths.push_back(command + " " + sub);
        for (const std::string& path : paths) {
            const std::string path_help = run_shell(kBinary + " " + path + " --help").output;
            CHECK_THAT(man.output, Catch::Contains(".SS \"bnlab " + path + "\""));
            CHECK_THAT(completion.output, Catch::Contains("\"" + path + "\") words="));
            for (const std::string& flag : help_flags(path_help)) {
                INFO(path << " " << flag);
                CHECK_THAT(man.output, Catch::Contains(troff_dashes(flag)));
                CHECK_THAT(completion.output, Catch::Contains(" " + flag + " ") || Catch::Contains(" " + flag + "\""));
                ++flags_checked;
            }
        }
    }
    CHECK(flags_checked > 100);
}

TEST_CASE("the bash completion completes subcommands and flags in bash", "[cli][docs]") {
    TempDir dir;
    REQUIRE(run_shell(kBinary + " completion bash --out '" + (dir / "bnlab.bash").string() + "'").exit_code == 0);
    const auto complete = [&](const std::string& words, int cword) {
        return run_shell("bash -c 'source \"" + (dir / "bnlab.bash").string() + "\"; COMP_WORDS=(" + words +
                         "); COMP_CWORD=" + std::to_string(cword) + "; _bnlab; echo \"${COMPREPLY[*]}\"'")
            .output;
    };
    CHECK(complete("bnlab tr", 1) == "train\n");
    CHECK(complete("bnlab train --batch-s", 2) == "--batch-size\n");
    CHECK(complete("bnlab train --model mlp --nor", 4) == "--norm --norm-position\n");
    CHECK(complete("bnlab claims r", 2) == "run\n");
    CHECK(complete("bnlab claims run --qu", 3) == "--quick\n");
}
