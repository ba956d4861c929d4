// Lean's unicode abbreviations on Tab (`\to` → `→`), as IJulia does `\alpha<Tab>`.
//
// The table is the Lean community's own (npm @leanprover/unicode-input, pinned in pins.toml),
// turned into C++ at build time by the xtask (xtask/src/kernel/abbreviations.rs) and compiled in
// from the build tree (XLEAN_ABBREVIATIONS_SOURCE). docs/kernel.md describes the rules.
#ifndef XLEAN_ABBREVIATIONS_HPP
#define XLEAN_ABBREVIATIONS_HPP

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xlean
{
    // One entry: `\key` becomes `symbol`. Upstream's `$CURSOR` marker is already removed: a
    // completion reply cannot put the cursor inside what it inserts, so it lands after it.
    struct abbreviation
    {
        std::string_view key;
        std::string_view symbol;
    };

    // The generated table, sorted by key bytes (searched with lower_bound).
    extern const abbreviation abbreviation_table[];
    extern const std::size_t abbreviation_table_size;

    // One choice of a completion reply: what it inserts and what JupyterLab shows beside it.
    struct completion_item
    {
        std::string text;
        std::string type;
    };

    // A completion reply: its choices replace the code points [start, end) of the cell.
    struct abbreviation_completion
    {
        std::vector<completion_item> items;
        std::size_t start;
        std::size_t end;
    };

    // What Tab does with `code` and the cursor at code point `cursor`, when abbreviations are
    // involved; nullopt leaves the completion to the backend. An abbreviation ends with the
    // longest run after its `\` that is still a prefix of some key, and is converted when that
    // run is a key. When the text before the cursor ends in one that is a key, or when the
    // cursor's line holds complete ones before it, one choice converts all of them in the line
    // (from the first converted `\` to the cursor); when it ends in a mere prefix of keys, the
    // choices are every symbol whose key starts with it. Never inside a string or char literal.
    std::optional<abbreviation_completion> complete_abbreviations(std::string_view code,
                                                                  std::size_t cursor);
}

#endif
