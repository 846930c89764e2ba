#include "core/printable.h"

#include <fmt/format.h>

#include <cstdint>

namespace bnlab {

namespace {

// The length of the valid UTF-8 sequence starting at text[i] (overlong forms, surrogates
// and code points above U+10FFFF are not valid), or 0.
size_t utf8_length(std::string_view text, size_t i) {
    const auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
    const uint8_t lead = byte(i);
    const size_t n = lead >= 0xF0 && lead <= 0xF4 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC2 && lead < 0xE0 ? 2 : 0;
    if (n == 0 || i + n > text.size()) return 0;
    for (size_t k = 1; k < n; ++k)
        if ((byte(i + k) & 0xC0) != 0x80) return 0;
    const uint8_t second = byte(i + 1);
    if ((lead == 0xE0 && second < 0xA0) || (lead == 0xED && second >= 0xA0) || (lead == 0xF0 && second < 0x90) ||
        (lead == 0xF4 && second >= 0x90))
        return 0;
    return n;
}

}  // namespace

std::string printable(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        const auto c = static_cast<uint8_t>(text[i]);
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c < 0x20 || c == 0x7F) {
            out += fmt::format("\\x{:02x}", c);
        } else if (c < 0x80) {
            out += static_cast<char>(c);
        } else if (const size_t n = utf8_length(text, i); n == 0) {
            out += fmt::format("\\x{:02x}", c);  // not UTF-8: the byte, escaped
        } else if (c == 0xC2 && static_cast<uint8_t>(text[i + 1]) < 0xA0) {
            out += fmt::format("\\u{:04x}", static_cast<uint8_t>(text[i + 1]));  // C1 control U+0080..U+009F
            i += 2;
            continue;
        } else {
            out.append(text.substr(i, n));
            i += n;
            continue;
        }
        ++i;
    }
    return out;
}

std::string markdown_text(std::string_view text) {
    std::string out;
    size_t run = 0;  // start of the characters not yet written (none of them special)
    const auto flush = [&](size_t end) { out += printable(text.substr(run, end - run)); };
    for (size_t i = 0; i < text.size(); ++i) {
        std::string replacement;
        switch (const char c = text[i]) {
            case '\n': case '\r': case '\t': replacement = " "; break;  // one line per cell
            case '<': replacement = "&lt;"; break;
            case '>': replacement = "&gt;"; break;
            case '&': replacement = "&amp;"; break;
            case '|': case '\\': case '`': case '*': case '_': case '[': case ']': replacement = {'\\', c}; break;
            default: continue;
        }
        flush(i);
        out += replacement;
        run = i + 1;
    }
    flush(text.size());
    return out;
}

}  // namespace bnlab
