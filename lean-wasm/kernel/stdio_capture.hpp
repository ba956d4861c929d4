// Capturing what the module writes to stdout and stderr while a cell runs.
//
// In wasm, Lean's IO.println reaches the C stdout, which emscripten's TTY device hands line by
// line to Module.print (stderr to Module.printErr); a worker's console is not the notebook. The
// JS glue (lean-wasm/js/pre.js, `xleanStdio`) swaps the TTY's byte sink while a capture is
// active, so the bytes are kept instead of printed. The interpreter starts a capture around each
// backend call and publishes what was kept as stream output of the cell.
#ifndef XLEAN_STDIO_CAPTURE_HPP
#define XLEAN_STDIO_CAPTURE_HPP

#include <string>

namespace xlean
{
    struct captured_stdio
    {
        std::string out;  // the bytes written to stdout (not necessarily valid UTF-8)
        std::string err;  // the bytes written to stderr
    };

    // Captures for its lifetime; take() ends the capture and returns the text (the destructor
    // ends it too, e.g. when the backend call throws).
    class stdio_capture
    {
    public:
        stdio_capture();
        ~stdio_capture();
        stdio_capture(const stdio_capture&) = delete;
        stdio_capture& operator=(const stdio_capture&) = delete;

        captured_stdio take();

    private:
        bool m_active;
    };
}

#endif
