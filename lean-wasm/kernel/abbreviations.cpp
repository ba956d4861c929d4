#include "abbreviations.hpp"

#include <algorithm>
#include <cctype>

#include "utf8.hpp"

namespace xlean
{
    namespace
    {
        const abbreviation* table_end()
        {
            return abbreviation_table + abbreviation_table_size;
        }

        bool starts_with(std::string_view text, std::string_view prefix)
        {
            return text.substr(0, prefix.size()) == prefix;
        }

        // The first entry whose key is not below `prefix`: the first of those starting with it.
        const abbreviation* first_from(std::string_view prefix)
        {
            return std::lower_bound(abbreviation_table, table_end(), prefix,
                                    [](const abbreviation& a, std::string_view p)
                                    { return a.key < p; });
        }

        bool is_key_prefix(std::string_view prefix)
        {
            const abbreviation* it = first_from(prefix);
            return it != table_end() && starts_with(it->key, prefix);
        }

        const abbreviation* entry_of(std::string_view key)
        {
            const abbreviation* it = first_from(key);
            return it != table_end() && it->key == key ? it : nullptr;
        }

        // An abbreviation in the text before the cursor: the bytes [begin, end), `\` included;
        // `entry` is null when it is not (yet) a key.
        struct found
        {
            std::size_t begin;
            std::size_t end;
            const abbreviation* entry;
        };

        enum class context
        {
            code,
            string,
            line_comment,
            block_comment
        };

        // Reads the text before the cursor from its start (a string may open lines earlier),
        // keeping the complete abbreviations of the cursor's line and the one that reaches the
        // cursor. Comments are read for abbreviations too; string literals are not.
        struct scanner
        {
            std::string_view text;
            std::size_t line_start;
            std::vector<found> complete;
            std::optional<found> at_cursor;
            context where = context::code;
            int comment_depth = 0;

            void run()
            {
                for (std::size_t i = 0; i < text.size();)
                {
                    i = step(i);
                }
            }

            // Reads what starts at byte `i`; returns where the next thing starts.
            std::size_t step(std::size_t i)
            {
                const char c = text[i];
                const char next = i + 1 < text.size() ? text[i + 1] : '\0';
                switch (where)
                {
                    case context::string:
                        where = c == '"' ? context::code : context::string;
                        return c == '\\' ? i + 2 : i + 1;
                    case context::line_comment:
                        where = c == '\n' ? context::code : where;
                        break;
                    case context::block_comment:
                        if ((c == '/' && next == '-') || (c == '-' && next == '/'))
                        {
                            comment_depth += c == '/' ? 1 : -1;
                            where = comment_depth == 0 ? context::code : where;
                            return i + 2;
                        }
                        break;
                    case context::code:
                        return code_step(i, c, next);
                }
                return c == '\\' ? abbreviation_at(i) : i + 1;
            }

            std::size_t code_step(std::size_t i, char c, char next)
            {
                if (c == '"')
                {
                    where = context::string;
                    return i + 1;
                }
                if ((c == '-' && next == '-') || (c == '/' && next == '-'))
                {
                    where = c == '-' ? context::line_comment : context::block_comment;
                    comment_depth = 1;
                    return i + 2;
                }
                if (c == '\'' && (i == 0 || !is_name_byte(text[i - 1])))
                {
                    return char_literal_end(i);
                }
                return c == '\\' ? abbreviation_at(i) : i + 1;
            }

            // Where a char literal starting at `i` ends (`'a'`, `'"'`, `'\t'`, `'\\'`: their `\` is
            // an escape, not an abbreviation); the end of the text when it is still open.
            std::size_t char_literal_end(std::size_t i) const
            {
                if (i + 1 < text.size() && text[i + 1] == '\\')
                {
                    const std::size_t close = text.find('\'', i + 3);
                    return close == std::string_view::npos ? text.size() : close + 1;
                }
                const bool closed = i + 2 < text.size() && text[i + 2] == '\'';
                return closed ? i + 3 : i + 1;
            }

            // A byte of a name, after which `'` is part of the name (`h'`), not a char literal.
            static bool is_name_byte(char c)
            {
                const auto b = static_cast<unsigned char>(c);
                return std::isalnum(b) || b >= 0x80 || c == '_' || c == '\'' || c == '!' || c == '?';
            }

            // The abbreviation whose `\` is at `i`: the longest run after it that is still a
            // prefix of some key (VS Code's rule); returns where the text after it starts.
            std::size_t abbreviation_at(std::size_t i)
            {
                std::size_t run = 0;
                while (i + 1 + run < text.size() && is_key_prefix(text.substr(i + 1, run + 1)))
                {
                    ++run;
                }
                const found f{i, i + 1 + run, entry_of(text.substr(i + 1, run))};
                if (i < line_start || run == 0)
                {
                    return f.end;
                }
                if (f.end == text.size())
                {
                    at_cursor = f;
                }
                else if (f.entry != nullptr)
                {
                    complete.push_back(f);
                }
                return f.end;
            }
        };

        // The choices for `f`, which reaches the cursor: every key starting with what follows its
        // `\`, as its symbol.
        abbreviation_completion choices(std::string_view before, const found& f)
        {
            const std::string_view prefix = before.substr(f.begin + 1);
            abbreviation_completion reply{{}, code_point_count(before.substr(0, f.begin)),
                                          code_point_count(before)};
            for (const abbreviation* it = first_from(prefix);
                 it != table_end() && starts_with(it->key, prefix); ++it)
            {
                reply.items.push_back({std::string(it->symbol), "\\" + std::string(it->key)});
            }
            return reply;
        }

        // One choice: the text from the first abbreviation to the cursor, every one converted.
        abbreviation_completion conversion(std::string_view before, const std::vector<found>& all)
        {
            std::string text;
            std::string keys;
            std::size_t at = all.front().begin;
            for (const found& f : all)
            {
                text.append(before.substr(at, f.begin - at)).append(f.entry->symbol);
                keys.append(keys.empty() ? "\\" : " \\").append(f.entry->key);
                at = f.end;
            }
            text.append(before.substr(at));
            return {{{text, keys}},
                    code_point_count(before.substr(0, all.front().begin)),
                    code_point_count(before)};
        }
    }

    std::optional<abbreviation_completion> complete_abbreviations(std::string_view code,
                                                                  std::size_t cursor)
    {
        const std::string_view before = code.substr(0, byte_offset(code, cursor));
        const std::size_t newline = before.rfind('\n');
        const std::size_t line_start = newline == std::string_view::npos ? 0 : newline + 1;
        scanner scan{before, line_start, {}, std::nullopt};
        scan.run();
        if (scan.at_cursor && scan.at_cursor->entry == nullptr)
        {
            return choices(before, *scan.at_cursor);
        }
        if (scan.at_cursor)
        {
            scan.complete.push_back(*scan.at_cursor);
        }
        if (scan.complete.empty())
        {
            return std::nullopt;
        }
        return conversion(before, scan.complete);
    }
}
