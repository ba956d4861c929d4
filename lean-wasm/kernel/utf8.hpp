// Making text valid UTF-8 before it is published.
//
// xeus serialises every message with nlohmann::json's strict dump(), which throws on invalid
// UTF-8. A throw there means no reply and no idle status: the cell hangs forever in the front
// end. Everything the interpreter publishes therefore goes through these functions first.
#ifndef XLEAN_UTF8_HPP
#define XLEAN_UTF8_HPP

#include <string>
#include <string_view>

#include "nlohmann/json.hpp"

namespace xlean
{
    // `text` with every ill-formed sequence replaced by U+FFFD, one replacement per maximal
    // ill-formed subpart (the Unicode Standard's recommended practice, as WHATWG decoders do).
    // Rejects overlong forms, surrogates (also as CESU-8 triples) and code points past U+10FFFF.
    std::string valid_utf8(std::string_view text);

    // True when `text` is well-formed UTF-8.
    bool is_valid_utf8(std::string_view text);

    // Repairs, in place, every string (and object key) inside `value`.
    void make_valid_utf8(nlohmann::json& value);

    // The length of `text` in code points (Jupyter cursor unit); `text` must be valid UTF-8.
    std::size_t code_point_count(std::string_view text);

    // The byte offset of code point `n` of `text` (its size when `text` is shorter); `text` must
    // be valid UTF-8.
    std::size_t byte_offset(std::string_view text, std::size_t n);
}

#endif
