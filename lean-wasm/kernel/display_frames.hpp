// Display frames in text output.
//
// Lean code shows rich output (HTML, Markdown, LaTeX, SVG, JSON) by writing a frame into its text
// output: STX "xlean.display" US <JSON object: MIME type -> content> ETX. The format is defined by
// lean-wasm/XLean/Display.lean. The Lean side cuts frames out of the messages it reports; text
// that Lean writes to the real stdout (IO.println, IO.print of a display) reaches the interpreter
// only through the JS stdout capture, so the interpreter cuts frames out of that text here.
#ifndef XLEAN_DISPLAY_FRAMES_HPP
#define XLEAN_DISPLAY_FRAMES_HPP

#include <string>
#include <string_view>
#include <vector>

namespace xlean
{
    struct text_piece
    {
        // true: `text` is a frame's payload (JSON text); false: plain text around frames.
        bool is_frame;
        std::string text;
    };

    // Splits `text` into plain text and frame payloads, in order. Empty plain pieces are
    // dropped. A frame start with no end is kept as plain text.
    std::vector<text_piece> split_display_frames(std::string_view text);

    inline constexpr std::string_view frame_start = "\x02xlean.display\x1f";
    inline constexpr char frame_end = '\x03';
}

#endif
