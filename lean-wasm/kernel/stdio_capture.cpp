#include "stdio_capture.hpp"

#include <cstdio>

#ifdef __EMSCRIPTEN__
#include <emscripten.h>

// The JS side is `xleanStdio` in lean-wasm/js/pre.js (in the module's scope, as these are).
// Memory64: a pointer argument reaches JS as a BigInt, so it is converted with Number() before
// any heap access; sizes cross as int (i32, a plain JS number). Nothing here returns a pointer.
EM_JS(void, xlean_js_stdio_begin, (), { xleanStdio.begin(); });
EM_JS(void, xlean_js_stdio_end, (), { xleanStdio.end(); });
// How many bytes fd 1 or 2 captured.
EM_JS(int, xlean_js_stdio_size, (int fd), { return xleanStdio.size(fd); });
// Copies them into buf (cap bytes of room) and forgets them.
EM_JS(void, xlean_js_stdio_copy, (int fd, char* buf, int cap),
      { xleanStdio.copy(fd, Number(buf), cap); });
#else
// Host builds (none yet) capture nothing.
static void xlean_js_stdio_begin() {}
static void xlean_js_stdio_end() {}
static int xlean_js_stdio_size(int) { return 0; }
static void xlean_js_stdio_copy(int, char*, int) {}
#endif

namespace xlean
{
    namespace
    {
        std::string take_fd(int fd)
        {
            const int size = xlean_js_stdio_size(fd);
            if (size <= 0)
            {
                return {};
            }
            std::string bytes(static_cast<std::size_t>(size), '\0');
            xlean_js_stdio_copy(fd, bytes.data(), size);
            return bytes;  // raw bytes: the interpreter repairs invalid UTF-8
        }

        void flush_c_streams()
        {
            // What C/C++ code buffered reaches the JS side only when flushed.
            std::fflush(stdout);
            std::fflush(stderr);
        }
    }

    stdio_capture::stdio_capture()
        : m_active(true)
    {
        flush_c_streams();  // earlier output belongs to the console, not to this cell
        xlean_js_stdio_begin();
    }

    stdio_capture::~stdio_capture()
    {
        if (m_active)
        {
            flush_c_streams();
            xlean_js_stdio_end();
        }
    }

    captured_stdio stdio_capture::take()
    {
        captured_stdio result;
        if (m_active)
        {
            flush_c_streams();
            xlean_js_stdio_end();
            m_active = false;
            result.out = take_fd(1);
            result.err = take_fd(2);
        }
        return result;
    }
}
