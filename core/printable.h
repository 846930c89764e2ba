// Text from a file (a class name in a checkpoint, a field of a summary.json) shown to a
// person: never raw. A terminal escape sequence could rewrite the screen, a newline could
// forge a line of output, and in markdown a `|` or `<` could break a table or inject HTML.
#pragma once

#include <string>
#include <string_view>

namespace bnlab {

// `text` safe to print on a terminal: control characters (C0, DEL and the C1 range
// U+0080..U+009F, which includes the 8-bit CSI) and bytes that are not valid UTF-8 become
// visible escapes ("\n", "\t", "\x1b"); a backslash is doubled; everything else (any valid
// UTF-8 text, accents and symbols included) is kept as it is.
std::string printable(std::string_view text);

// `text` for a markdown table cell: one line (a newline, CR or tab is a space), `|`, `\`,
// `` ` ``, `*`, `_`, `[`, `]` backslash-escaped, `<`, `>`, `&` as HTML entities, the rest as
// printable() makes it: it renders as the same characters, never as markup.
std::string markdown_text(std::string_view text);

}  // namespace bnlab
