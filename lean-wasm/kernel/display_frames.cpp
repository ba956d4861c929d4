#include "display_frames.hpp"

namespace xlean
{
    std::vector<text_piece> split_display_frames(std::string_view text)
    {
        std::vector<text_piece> pieces;
        auto push_text = [&](std::string_view t)
        {
            if (t.empty())
            {
                return;
            }
            if (!pieces.empty() && !pieces.back().is_frame)
            {
                pieces.back().text.append(t);
            }
            else
            {
                pieces.push_back({false, std::string(t)});
            }
        };
        std::size_t pos = 0;
        while (pos < text.size())
        {
            const std::size_t start = text.find(frame_start, pos);
            if (start == std::string_view::npos)
            {
                break;
            }
            const std::size_t payload = start + frame_start.size();
            const std::size_t end = text.find(frame_end, payload);
            if (end == std::string_view::npos)
            {
                break;  // an unterminated frame stays text
            }
            push_text(text.substr(pos, start - pos));
            pieces.push_back({true, std::string(text.substr(payload, end - payload))});
            pos = end + 1;
        }
        push_text(text.substr(pos));
        return pieces;
    }
}
