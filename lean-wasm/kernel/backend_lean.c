/*
 * The real backend: xlean_backend.h over the `@[export xlean_*]` functions of our Lean REPL
 * module (lean-wasm/XLean), through the Lean runtime's C API (lean/lean.h).
 *
 * The Lean side (names and types; docs/kernel-shell.md, "The Lean exports"):
 *
 *   @[export xlean_init]        def init       (options : String)                     : IO String
 *   @[export xlean_execute]     def execute    (code : String) (cell : UInt32)        : IO String
 *   @[export xlean_complete]    def complete   (code : String) (cursor : UInt32)      : IO String
 *   @[export xlean_inspect]     def inspect    (code : String) (cursor detail : UInt32) : IO String
 *   @[export xlean_is_complete] def isComplete (code : String)                        : IO String
 *
 * Each returns the JSON reply text that xlean_backend.h describes. Lean strings are passed owned
 * (the callee consumes them) and the IO result is consumed here.
 *
 * Build-time settings (the build driver sets them; CMakeLists.txt passes them on):
 *   XLEAN_LEAN_MODULE_INIT  the C initialiser of the module holding the exports
 *                           (default initialize_XLean_Export);
 *   XLEAN_LEAN_VERSION      the Lean version shown in kernel_info, e.g. "4.28.0";
 *   XLEAN_LEAN_WORLD_TOKEN  1 if IO functions still take the `IO.RealWorld` argument in C (Lean
 *                           before the world token was erased); 0 (default) for Lean 4.28.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lean/lean.h>

#include "xlean_backend.h"

#ifndef XLEAN_LEAN_MODULE_INIT
#define XLEAN_LEAN_MODULE_INIT initialize_XLean_Export
#endif
#ifndef XLEAN_LEAN_VERSION
#define XLEAN_LEAN_VERSION "unknown"
#endif
#ifndef XLEAN_LEAN_WORLD_TOKEN
#define XLEAN_LEAN_WORLD_TOKEN 0
#endif

#if XLEAN_LEAN_WORLD_TOKEN
#define XLEAN_WORLD_PARAM , lean_object *
#define XLEAN_WORLD , lean_io_mk_world()
#else
#define XLEAN_WORLD_PARAM
#define XLEAN_WORLD
#endif

/* Set up by the Lean runtime library. lean_initialize() is what Lean's own emitted main() calls
 * for programs that use the Lean package (the frontend, the kernel, the environment): it
 * initialises the runtime and the C++ parts of Lean, then lean_initialize_runtime_module(). */
extern void lean_initialize(void);
/* IO.Error.toString, exported by Init (`@[export lean_io_error_to_string]`). */
extern lean_object *lean_io_error_to_string(lean_object *err);

/* The module's initialiser and the exports (see the table above). */
extern lean_object *XLEAN_LEAN_MODULE_INIT(uint8_t builtin XLEAN_WORLD_PARAM);
extern lean_object *xlean_init(lean_object *options XLEAN_WORLD_PARAM);
extern lean_object *xlean_execute(lean_object *code, uint32_t cell XLEAN_WORLD_PARAM);
extern lean_object *xlean_complete(lean_object *code, uint32_t cursor XLEAN_WORLD_PARAM);
extern lean_object *xlean_inspect(lean_object *code, uint32_t cursor,
                                  uint32_t detail XLEAN_WORLD_PARAM);
extern lean_object *xlean_is_complete(lean_object *code XLEAN_WORLD_PARAM);

static int g_runtime_ready = 0;
static char *g_init_error = NULL; /* why the module could not be initialised */

void xlean_backend_free(char *reply) { free(reply); }

/* A malloc'd copy of n bytes. */
static char *copy_bytes(const char *s, size_t n) {
    char *out = (char *)malloc(n + 1);
    if (out) {
        memcpy(out, s, n);
        out[n] = '\0';
    }
    return out;
}

/* A JSON string literal of a NUL-terminated string (quotes and control characters escaped). */
static char *json_quote(const char *s) {
    size_t n = strlen(s), k = 0;
    char *out = (char *)malloc(6 * n + 3);
    if (!out) return NULL;
    out[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[k++] = '\\';
            out[k++] = (char)c;
        } else if (c < 0x20) {
            k += (size_t)sprintf(out + k, "\\u%04x", c);
        } else {
            out[k++] = (char)c;
        }
    }
    out[k++] = '"';
    out[k] = '\0';
    return out;
}

/* {"status":"error","ename":ename,"evalue":evalue,"outputs":[]} */
static char *error_reply(const char *ename, const char *evalue) {
    char *q = json_quote(evalue);
    if (!q) return NULL;
    size_t size = strlen(q) + strlen(ename) + 80;
    char *out = (char *)malloc(size);
    if (out) {
        snprintf(out, size, "{\"status\":\"error\",\"ename\":\"%s\",\"evalue\":%s,\"outputs\":[]}",
                 ename, q);
    }
    free(q);
    return out;
}

/* The text of a failed IO result (consumes nothing). */
static char *io_error_text(lean_object *res) {
    lean_object *err = lean_io_result_get_error(res);
    lean_inc(err);
    lean_object *s = lean_io_error_to_string(err);
    char *text = copy_bytes(lean_string_cstr(s), lean_string_size(s) - 1);
    lean_dec(s);
    return text;
}

/* Consumes an `IO String` result: the string, copied with malloc, or an error reply. */
static char *take_string_result(lean_object *res, const char *call) {
    char *out;
    if (lean_io_result_is_ok(res)) {
        lean_object *s = lean_io_result_get_value(res);
        out = copy_bytes(lean_string_cstr(s), lean_string_size(s) - 1);
    } else {
        char *why = io_error_text(res);
        size_t size = (why ? strlen(why) : 0) + strlen(call) + 64;
        char *evalue = (char *)malloc(size);
        if (evalue) snprintf(evalue, size, "%s failed: %s", call, why ? why : "(no message)");
        out = evalue ? error_reply("xlean.LeanIOError", evalue) : NULL;
        free(evalue);
        free(why);
    }
    lean_dec(res);
    return out;
}

/* The reply every call gives once initialisation has failed. */
static char *unavailable(void) {
    return error_reply("xlean.InitError",
                       g_init_error ? g_init_error : "xlean_backend_init was not called");
}

char *xlean_backend_info(void) {
    return copy_bytes("{\"name\":\"lean\",\"language_version\":\"" XLEAN_LEAN_VERSION "\"}",
                      strlen("{\"name\":\"lean\",\"language_version\":\"" XLEAN_LEAN_VERSION
                             "\"}"));
}

char *xlean_backend_init(const char *options_json) {
    if (!g_runtime_ready && !g_init_error) {
        lean_initialize();
        /* As Lean's emitted main() does: no panic messages from closed terms while modules
         * initialise. No task manager is started: the module has no threads, and the patched
         * runtime runs tasks on demand when there is none. */
        lean_set_panic_messages(false);
        lean_object *res = XLEAN_LEAN_MODULE_INIT(1 /* builtin */ XLEAN_WORLD);
        lean_set_panic_messages(true);
        lean_io_mark_end_initialization();
        if (lean_io_result_is_ok(res)) {
            g_runtime_ready = 1;
        } else {
            char *why = io_error_text(res);
            const char *prefix = "initialising the Lean modules failed: ";
            size_t size = strlen(prefix) + (why ? strlen(why) : 0) + 1;
            g_init_error = (char *)malloc(size);
            if (g_init_error) snprintf(g_init_error, size, "%s%s", prefix, why ? why : "");
            free(why);
        }
        lean_dec(res);
    }
    if (!g_runtime_ready) {
        char *q = json_quote(g_init_error ? g_init_error : "initialisation failed");
        size_t size = (q ? strlen(q) : 0) + 40;
        char *out = (char *)malloc(size);
        if (out) snprintf(out, size, "{\"status\":\"error\",\"error\":%s}", q ? q : "\"\"");
        free(q);
        return out;
    }
    lean_object *options = lean_mk_string(options_json ? options_json : "{}");
    char *reply = take_string_result(xlean_init(options XLEAN_WORLD), "xlean_init");
    return reply;
}

char *xlean_backend_execute(const char *code, uint32_t execution_count) {
    if (!g_runtime_ready) return unavailable();
    return take_string_result(xlean_execute(lean_mk_string(code), execution_count XLEAN_WORLD),
                              "xlean_execute");
}

char *xlean_backend_complete(const char *code, uint32_t cursor_pos) {
    if (!g_runtime_ready) return unavailable();
    return take_string_result(xlean_complete(lean_mk_string(code), cursor_pos XLEAN_WORLD),
                              "xlean_complete");
}

char *xlean_backend_inspect(const char *code, uint32_t cursor_pos, uint32_t detail_level) {
    if (!g_runtime_ready) return unavailable();
    return take_string_result(
        xlean_inspect(lean_mk_string(code), cursor_pos, detail_level XLEAN_WORLD),
        "xlean_inspect");
}

char *xlean_backend_is_complete(const char *code) {
    if (!g_runtime_ready) return copy_bytes("{\"status\":\"unknown\"}", 20);
    return take_string_result(xlean_is_complete(lean_mk_string(code) XLEAN_WORLD),
                              "xlean_is_complete");
}
