// The module's entry point for JupyterLite: the embind API that the xeus-lite worker drives
// (`new Module.xkernel(argv)`, `get_server()`, `start()`, `notify_listener(msg)`).
// The same file serves the real kernel and the test kernel; which backend answers is decided at
// link time (backend_lean.c or backend_test.c).

#include <string>
#include <string_view>

#include <emscripten/bind.h>

#include "xeus/xembind.hpp"

#include "xlean_interpreter.hpp"

namespace
{
    // kernel.json's argv reaches the constructor. `--backend-options=<JSON object>` is handed to
    // xlean_backend_init (other arguments, such as the kernel's own path, are ignored).
    xlean::interpreter* make_interpreter(emscripten::val argv)
    {
        constexpr std::string_view flag = "--backend-options=";
        std::string options;
        if (argv.isArray())
        {
            const unsigned n = argv["length"].as<unsigned>();
            for (unsigned i = 0; i < n; ++i)
            {
                emscripten::val arg = argv[i];
                if (!arg.isString())
                {
                    continue;
                }
                const std::string s = arg.as<std::string>();
                if (s.compare(0, flag.size(), flag) == 0)
                {
                    options = s.substr(flag.size());
                }
            }
        }
        return new xlean::interpreter(options);
    }
}

EMSCRIPTEN_BINDINGS(xlean_kernel)
{
    xeus::export_core();
    xeus::export_kernel<xlean::interpreter, &make_interpreter>("xkernel");
}
