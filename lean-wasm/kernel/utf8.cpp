#include "utf8.hpp"

#include <cstdint>

namespace xlean
{
    namespace
    {
        constexpr std::string_view replacement = "\xEF\xBF\xBD";  // U+FFFD

        // The length of the well-formed sequence starting at text[i], or 0 if it is ill-formed;
        // for an ill-formed one, *bad is set to the length of its maximal ill-formed subpart
        // (at least 1).
        std::size_t sequence_at(std::string_view text, std::size_t i, std::size_t* bad)
        {
            const auto byte = [&](std::size_t k) -> unsigned
            { return static_cast<unsigned char>(text[k]); };
            const unsigned b0 = byte(i);
            *bad = 1;
            if (b0 < 0x80)
            {
                return 1;
            }
            std::size_t need;
            unsigned lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
            if (b0 >= 0xC2 && b0 <= 0xDF)
            {
                need = 2;
            }
            else if (b0 >= 0xE0 && b0 <= 0xEF)
            {
                need = 3;
                if (b0 == 0xE0) lo = 0xA0;       // no overlong forms
                if (b0 == 0xED) hi = 0x9F;       // no surrogates
            }
            else if (b0 >= 0xF0 && b0 <= 0xF4)
            {
                need = 4;
                if (b0 == 0xF0) lo = 0x90;       // no overlong forms
                if (b0 == 0xF4) hi = 0x8F;       // nothing past U+10FFFF
            }
            else
            {
                return 0;  // a continuation byte, C0, C1 or F5..FF: one bad byte
            }
            for (std::size_t k = 1; k < need; ++k)
            {
                if (i + k >= text.size())
                {
                    *bad = k;
                    return 0;
                }
                const unsigned b = byte(i + k);
                const unsigned l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
                if (b < l || b > h)
                {
                    *bad = k;
                    return 0;
                }
            }
            return need;
        }
    }

    std::string valid_utf8(std::string_view text)
    {
        std::string out;
        out.reserve(text.size());
        std::size_t i = 0;
        while (i < text.size())
        {
            std::size_t bad;
            const std::size_t n = sequence_at(text, i, &bad);
            if (n > 0)
            {
                out.append(text.substr(i, n));
                i += n;
            }
            else
            {
                out.append(replacement);
                i += bad;
            }
        }
        return out;
    }

    bool is_valid_utf8(std::string_view text)
    {
        std::size_t i = 0;
        while (i < text.size())
        {
            std::size_t bad;
            const std::size_t n = sequence_at(text, i, &bad);
            if (n == 0)
            {
                return false;
            }
            i += n;
        }
        return true;
    }

    void make_valid_utf8(nlohmann::json& value)
    {
        if (value.is_string())
        {
            auto& s = value.get_ref<std::string&>();
            if (!is_valid_utf8(s))
            {
                s = valid_utf8(s);
            }
        }
        else if (value.is_array())
        {
            for (auto& item : value)
            {
                make_valid_utf8(item);
            }
        }
        else if (value.is_object())
        {
            bool keys_ok = true;
            for (auto& [key, item] : value.items())
            {
                keys_ok = keys_ok && is_valid_utf8(key);
                make_valid_utf8(item);
            }
            if (!keys_ok)
            {
                nlohmann::json repaired = nlohmann::json::object();
                for (auto& [key, item] : value.items())
                {
                    repaired[valid_utf8(key)] = std::move(item);
                }
                value = std::move(repaired);
            }
        }
    }

    std::size_t code_point_count(std::string_view text)
    {
        std::size_t n = 0;
        for (const char c : text)
        {
            if ((static_cast<unsigned char>(c) & 0xC0) != 0x80)
            {
                ++n;
            }
        }
        return n;
    }

    std::size_t byte_offset(std::string_view text, std::size_t n)
    {
        for (std::size_t i = 0; i < text.size(); ++i)
        {
            if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80 && n-- == 0)
            {
                return i;
            }
        }
        return text.size();
    }
}
