#include "models/spec.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <map>

#include "core/error.h"

namespace bnlab {

namespace {

constexpr int64_t kMaxSize = 65536;  // channels, features, groups
constexpr int64_t kMaxWindow = 1024;  // kernel, stride, padding

[[noreturn]] void fail(size_t position, const std::string& problem) {
    throw FieldError("model", fmt::format("spec position {}: {}", position, problem));
}

// The part of a token after its name: "64k3s2" -> number 64, options {k: 3, s: 2}.
struct TokenArguments {
    std::string number;  // "" when absent
    std::map<char, int64_t> options;
};

class Parser {
public:
    explicit Parser(const std::string& text) : text_(text) {}

    std::vector<SpecLayer> parse() {
        if (text_.empty()) fail(1, "empty spec (write layers joined by '-', e.g. conv32-norm-relu-pool2-fc)");
        std::vector<SpecLayer> layers = sequence(0);
        if (!at_end()) fail(pos_ + 1, "')' without a matching '('");
        return layers;
    }

private:
    bool at_end() const { return pos_ >= text_.size(); }
    bool at_separator() const { return at_end() || text_[pos_] == '-' || text_[pos_] == ')'; }

    // layer ('-' layer)*, up to the end or a ')' (left for the caller).
    std::vector<SpecLayer> sequence(size_t open_paren) {
        std::vector<SpecLayer> layers{layer()};
        while (!at_end() && text_[pos_] == '-') {
            ++pos_;
            layers.push_back(layer());
        }
        if (open_paren > 0 && at_end()) fail(open_paren, "'(' is never closed");
        return layers;
    }

    SpecLayer layer() {
        const size_t start = pos_;
        if (at_separator())
            fail(start + 1, at_end() ? "the spec ends with '-' (a layer is missing)" : "a layer is missing before '" +
                                                                                          std::string(1, text_[pos_]) + "'");
        while (!at_end() && std::islower(static_cast<unsigned char>(text_[pos_]))) ++pos_;
        SpecLayer layer;
        layer.kind = text_.substr(start, pos_ - start);
        layer.position = start + 1;
        if (layer.kind == "res") return residual(std::move(layer));
        const size_t name_end = pos_;
        while (!at_separator() && text_[pos_] != '(') ++pos_;
        const std::string token = text_.substr(start, pos_ - start);
        if (!at_end() && text_[pos_] == '(') fail(pos_ + 1, "only res takes layers in parentheses, not '" + token + "'");
        arguments(layer, token, text_.substr(name_end, pos_ - name_end));
        return layer;
    }

    SpecLayer residual(SpecLayer layer) {
        if (at_end() || text_[pos_] != '(') fail(layer.position, "res needs its layers in parentheses, e.g. res(conv16-norm-relu-conv16-norm)");
        const size_t open = ++pos_;
        layer.body = sequence(open);
        ++pos_;  // ')'
        if (!at_separator()) fail(pos_ + 1, "expected '-' after res(...)");
        return layer;
    }

    // Fills `layer` from the text after its name; fails for an unknown name or bad arguments.
    void arguments(SpecLayer& layer, const std::string& token, const std::string& rest) const {
        const size_t at = layer.position;
        std::string& kind = layer.kind;
        if (kind == "pool") kind = "maxpool";
        const auto parsed = [&](const std::string& allowed) { return split_arguments(at, token, rest, allowed); };
        const auto count = [&](const std::string& text, int64_t low, int64_t high, const char* what) {
            return number(at, token, text, low, high, what);
        };
        if (kind == "conv" || kind == "basic") {
            const TokenArguments a = parsed(kind == "conv" ? "ksp" : "s");
            if (a.number.empty()) fail(at, fmt::format("{} needs a channel count, e.g. {}32", kind, kind));
            layer.size = count(a.number, 1, kMaxSize, "channels");
            layer.kernel = static_cast<int>(a.options.contains('k') ? a.options.at('k') : 3);
            layer.stride = static_cast<int>(a.options.contains('s') ? a.options.at('s') : 1);
            layer.padding = static_cast<int>(a.options.contains('p') ? a.options.at('p') : -1);
        } else if (kind == "maxpool" || kind == "avgpool") {
            const TokenArguments a = parsed("sp");
            if (a.number.empty()) fail(at, fmt::format("{} needs a kernel size, e.g. {}2", token, token));
            layer.kernel = static_cast<int>(count(a.number, 1, kMaxWindow, "kernel size"));
            layer.stride = static_cast<int>(a.options.contains('s') ? a.options.at('s') : 0);
            layer.padding = static_cast<int>(a.options.contains('p') ? a.options.at('p') : 0);
        } else if (kind == "fc" || kind == "gn") {
            const TokenArguments a = parsed("");
            if (!a.number.empty()) layer.size = count(a.number, 1, kMaxSize, kind == "fc" ? "features" : "groups");
        } else if (kind == "dropout") {
            if (!rest.empty()) {
                float p = -1.0f;
                const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), p);
                if (error != std::errc() || end != rest.data() + rest.size() || !(p >= 0.0f && p < 1.0f))
                    fail(at, fmt::format("'{}': the dropout probability must be a number in [0, 1), e.g. dropout0.5", token));
                layer.p = p;
            }
        } else if (kind == "norm" || kind == "bn" || kind == "ln" || kind == "noisybn" || kind == "act" || kind == "relu" ||
                   kind == "sigmoid" || kind == "tanh" || kind == "gap" || kind == "flatten") {
            if (!rest.empty()) fail(at, fmt::format("'{}': {} takes no arguments", token, kind));
        } else {
            std::string known;
            for (const std::string& name : spec_layer_names()) known += (known.empty() ? "" : ", ") + name;
            fail(at, fmt::format("unknown layer '{}' (known: {})", token, known));
        }
    }

    // "64k3s2" with allowed "ksp" -> {"64", {k: 3, s: 2}}; each option a letter and an integer.
    static TokenArguments split_arguments(size_t at, const std::string& token, const std::string& rest,
                                          const std::string& allowed) {
        TokenArguments out;
        size_t i = 0;
        while (i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i]))) ++i;
        out.number = rest.substr(0, i);
        while (i < rest.size()) {
            const char option = rest[i];
            size_t j = i + 1;
            while (j < rest.size() && std::isdigit(static_cast<unsigned char>(rest[j]))) ++j;
            if (allowed.find(option) == std::string::npos || j == i + 1) {
                std::string takes;
                for (char a : allowed) takes += fmt::format("{}{}<{}>", takes.empty() ? "" : ", ", a, char(std::toupper(a)));
                fail(at, fmt::format("'{}': unexpected '{}' ({})", token, rest.substr(i),
                                     takes.empty() ? "no options after the number" : "options: " + takes));
            }
            if (out.options.contains(option)) fail(at, fmt::format("'{}': '{}' given twice", token, option));
            out.options[option] = number(at, token, rest.substr(i + 1, j - i - 1), option == 'p' ? 0 : 1, kMaxWindow,
                                         option == 'k' ? "kernel size" : option == 's' ? "stride" : "padding");
            i = j;
        }
        return out;
    }

    static int64_t number(size_t at, const std::string& token, const std::string& text, int64_t low, int64_t high,
                          const char* what) {
        int64_t value = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (error != std::errc() || end != text.data() + text.size() || value < low || value > high)
            fail(at, fmt::format("'{}': {} must be an integer in [{}, {}], got '{}'", token, what, low, high, text));
        return value;
    }

    const std::string& text_;
    size_t pos_ = 0;
};

}  // namespace

const std::vector<std::string>& spec_layer_names() {
    static const std::vector<std::string> names{
        "conv<N>[k<K>][s<S>][p<P>]", "fc[<N>]", "norm", "bn", "ln", "gn[<G>]", "noisybn", "act", "relu", "sigmoid", "tanh",
        "pool<K>", "maxpool<K>[s<S>][p<P>]", "avgpool<K>[s<S>][p<P>]", "gap", "flatten", "dropout[<P>]", "res(...)",
        "basic<N>[s<S>]"};
    return names;
}

std::vector<SpecLayer> parse_spec(const std::string& spec) { return Parser(spec).parse(); }

std::string format_layer(const SpecLayer& l) {
    if (l.kind == "conv") {
        std::string s = fmt::format("conv{}", l.size);
        if (l.kernel != 3) s += fmt::format("k{}", l.kernel);
        if (l.stride != 1) s += fmt::format("s{}", l.stride);
        if (l.padding >= 0 && l.padding != l.kernel / 2) s += fmt::format("p{}", l.padding);
        return s;
    }
    if (l.kind == "maxpool" || l.kind == "avgpool") {
        std::string s = fmt::format("{}{}", l.kind, l.kernel);
        if (l.stride != 0 && l.stride != l.kernel) s += fmt::format("s{}", l.stride);
        if (l.padding > 0) s += fmt::format("p{}", l.padding);
        return s;
    }
    if (l.kind == "basic") return fmt::format("basic{}", l.size) + (l.stride != 1 ? fmt::format("s{}", l.stride) : "");
    if (l.kind == "fc" || l.kind == "gn") return l.size > 0 ? fmt::format("{}{}", l.kind, l.size) : l.kind;
    if (l.kind == "dropout") return l.p >= 0 ? fmt::format("dropout{}", l.p) : "dropout";
    if (l.kind == "res") return "res(" + format_spec(l.body) + ")";
    return l.kind;
}

std::string format_spec(const std::vector<SpecLayer>& layers) {
    std::string s;
    for (const SpecLayer& l : layers) {
        if (!s.empty()) s += '-';
        s += format_layer(l);
    }
    return s;
}

}  // namespace bnlab
