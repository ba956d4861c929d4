/*
 * The real backend: xlean_backend.h over the `@[export xlean_*]` functions of our Lean library
 * (lean-wasm/XLean/Export.lean), through the Lean runtime's C API (lean/lean.h).
 *
 * The Lean side, as docs/kernel.md ("The C interface") declares it. The 4.28 compiler erases the
 * IO world token, so an `IO String` export with a String argument is `lean_object* f(lean_object*)`:
 *
 *   lean_object* initialize_XLean(uint8_t builtin);                   module initialiser
 *   lean_object* xlean_info(void);                                    IO String
 *   lean_object* xlean_init(lean_object* search_path);                IO String
 *   lean_object* xlean_execute(lean_object* cell);                    IO String
 *   lean_object* xlean_complete(lean_object* code, uint32_t cursor);  IO String
 *   lean_object* xlean_inspect(lean_object* code, uint32_t cursor);   IO String
 *   lean_object* xlean_is_complete(lean_object* code);                IO String
 *
 * Every argument is owned (the callee consumes it: a fresh lean_mk_string, never lean_dec'd
 * here); the result is an owned IO result, consumed here. Each returns one JSON object, in the
 * shapes xlean_backend.h describes (the Lean functions catch their own errors and answer JSON).
 *
 * Build-time settings (CMakeLists.txt passes them on from the build driver):
 *   XLEAN_LEAN_MODULE_INIT  the initialiser of the module that holds the exports and imports the
 *                           rest (default initialize_XLean, for lean-wasm/XLean.lean);
 *   XLEAN_LEAN_VERSION      the Lean version to report if xlean_info cannot be called.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <emscripten.h>
#include <lean/lean.h>

#include "xlean_backend.h"

#ifndef XLEAN_LEAN_MODULE_INIT
#define XLEAN_LEAN_MODULE_INIT initialize_XLean
#endif
#ifndef XLEAN_LEAN_VERSION
#define XLEAN_LEAN_VERSION "unknown"
#endif

/* From the Lean runtime library. lean_initialize() is what Lean's own emitted main() calls for
 * programs that use the Lean package (frontend, kernel, environment): it initialises the runtime
 * and the C++ parts of Lean. */
extern void lean_initialize(void);
/* IO.Error.toString, exported by Init (`@[export lean_io_error_to_string]`). */
extern lean_object *lean_io_error_to_string(lean_object *err);

extern lean_object *XLEAN_LEAN_MODULE_INIT(uint8_t builtin);
extern lean_object *xlean_info(void);
extern lean_object *xlean_init(lean_object *search_path);
extern lean_object *xlean_execute(lean_object *cell);
extern lean_object *xlean_complete(lean_object *code, uint32_t cursor);
extern lean_object *xlean_inspect(lean_object *code, uint32_t cursor);
extern lean_object *xlean_is_complete(lean_object *code);

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

/* The value of `"key": "..."` in a flat JSON object (no escapes inside the value), or NULL;
 * malloc'd. Enough for the options and for xlean_info's reply, which the interpreter parses
 * properly afterwards. */
static char *json_string_field(const char *json, const char *key) {
    if (!json) return NULL;
    size_t klen = strlen(key);
    for (const char *p = strchr(json, '"'); p; p = strchr(p + 1, '"')) {
        if (strncmp(p + 1, key, klen) != 0 || p[1 + klen] != '"') continue;
        const char *q = p + 2 + klen;
        while (*q == ' ' || *q == ':') q++;
        if (*q != '"') return NULL;
        const char *e = strchr(q + 1, '"');
        return e ? copy_bytes(q + 1, (size_t)(e - q - 1)) : NULL;
    }
    return NULL;
}

char *xlean_backend_info(void) {
    char *version = NULL;
    if (g_runtime_ready) {
        /* {"lean_githash":"...","lean_version":"4.28.0","protocol":1} */
        char *info = take_string_result(xlean_info(), "xlean_info");
        version = json_string_field(info, "lean_version");
        free(info);
    }
    const char *v = version ? version : XLEAN_LEAN_VERSION;
    size_t size = strlen(v) + 64;
    char *out = (char *)malloc(size);
    if (out) snprintf(out, size, "{\"name\":\"lean\",\"language_version\":\"%s\"}", v);
    free(version);
    return out;
}

char *xlean_backend_init(const char *options_json) {
    if (!g_runtime_ready && !g_init_error) {
        double started = emscripten_get_now();
        lean_initialize();
        /* As Lean's emitted main() does: no panic messages from closed terms while modules
         * initialise. No task manager is started: the module has no threads, and the patched
         * runtime runs tasks on demand when there is none. */
        lean_set_panic_messages(false);
        lean_object *res = XLEAN_LEAN_MODULE_INIT(1 /* builtin */);
        lean_set_panic_messages(true);
        lean_io_mark_end_initialization();
        /* To the embedder's console (outside any cell): `cargo xtask test-node` reads it. */
        fprintf(stderr, "xlean: Lean runtime and modules initialised in %.1f ms\n",
                emscripten_get_now() - started);
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
    /* Options: {"search_path": "DIR:DIR"}; none means LEAN_PATH (set by the JS glue). */
    char *search_path = json_string_field(options_json, "search_path");
    lean_object *arg = lean_mk_string(search_path ? search_path : "");
    free(search_path);
    double started = emscripten_get_now();
    char *reply = take_string_result(xlean_init(arg), "xlean_init");
    fprintf(stderr, "xlean: Init imported (xlean_init) in %.1f ms\n",
            emscripten_get_now() - started);
    return reply;
}

char *xlean_backend_execute(const char *code, uint32_t execution_count) {
    if (!g_runtime_ready) return unavailable();
    (void)execution_count; /* the session counts its cells itself */
    return take_string_result(xlean_execute(lean_mk_string(code)), "xlean_execute");
}

char *xlean_backend_complete(const char *code, uint32_t cursor_pos) {
    if (!g_runtime_ready) return unavailable();
    return take_string_result(xlean_complete(lean_mk_string(code), cursor_pos),
                              "xlean_complete");
}

char *xlean_backend_inspect(const char *code, uint32_t cursor_pos, uint32_t detail_level) {
    if (!g_runtime_ready) return unavailable();
    (void)detail_level; /* one level of detail: signature and docstring */
    return take_string_result(xlean_inspect(lean_mk_string(code), cursor_pos), "xlean_inspect");
}

char *xlean_backend_is_complete(const char *code) {
    if (!g_runtime_ready) return copy_bytes("{\"status\":\"unknown\"}", 20);
    return take_string_result(xlean_is_complete(lean_mk_string(code)), "xlean_is_complete");
}
