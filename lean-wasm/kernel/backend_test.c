/*
 * The test backend: a deterministic stand-in for Lean behind xlean_backend.h, used only to test
 * the interpreter, the JS glue and the build. No Lean in it.
 *
 * A cell is read line by line; each non-blank line not starting with "--" is one command:
 *
 *   eval A + B           info message whose text is the sum (the cell's "result")
 *   info|warning|error T message with that severity and text T
 *   print T / eprint T   T and a newline written to the C stdout / stderr (as Lean's IO.println
 *                        does in wasm), which only the JS stdout capture can bring to the cell
 *   show MIME T          a display frame (the format of lean-wasm/XLean/Display.lean) written to
 *                        stdout, which the interpreter must cut out and publish as display_data
 *   display MIME T       a display output in the reply; for a JSON MIME type T is JSON text
 *   stream NAME T        a stream output in the reply
 *   bytes HEX...         info message made of these raw bytes (e.g. invalid UTF-8)
 *   printbytes HEX...    these raw bytes and a newline written to the C stdout
 *   getenv NAME          info message: the value of environment variable NAME (or "(unset)")
 *   exists PATH          info message `PATH: N bytes` or `PATH: missing` (the module's file system)
 *   count                info message: how many cells this backend has executed (state)
 *   import M...          nothing (as Lean answers an import it can satisfy): the JS glue loads the
 *                        bundle that provides M before the cell arrives, see lean-wasm/js/pre.js
 *   garbage / null       the reply is not JSON / is NULL (the interpreter must survive both)
 *
 * and the ways Lean's own code can stop the module (see "When the kernel dies" in
 * docs/kernel-shell.md); each takes the rest of the cell with it:
 *
 *   abort                abort(), as Lean's failed runtime assertions do: a wasm trap
 *   oom                  what Lean's runtime does when an allocation fails
 *                        (lean_internal_panic_out_of_memory): "INTERNAL PANIC: out of memory" on
 *                        stderr, then exit(1). The memory is not really exhausted (that would
 *                        take gigabytes from the machine running the tests)
 *   overflow             unbounded recursion, as a runaway recursive Lean function: the engine's
 *                        call stack is exhausted (V8: RangeError "Maximum call stack size
 *                        exceeded")
 *   hang                 a loop that never ends, as a proof search that never finishes
 *
 *   anything else        error message "unknown command"
 *
 * Messages are positioned at (line, 0)-(line, length of the line in code points).
 * Completion of code starting with "fail" answers an error, in the Lean side's error shape.
 * Completion, inspection and is_complete work on the small vocabulary below, with cursors in
 * code points as the interface requires. See docs/kernel-shell.md.
 */
#include "xlean_backend.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------
 * A growable string and JSON writing */

typedef struct {
    char *data;
    size_t len, cap;
} buf_t;

static void buf_reserve(buf_t *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = (char *)realloc(b->data, cap);
    if (!p) abort(); /* a test backend: out of memory is fatal */
    b->data = p;
    b->cap = cap;
}

static void buf_put(buf_t *b, const char *s, size_t n) {
    buf_reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void buf_puts(buf_t *b, const char *s) { buf_put(b, s, strlen(s)); }

static void buf_printf(buf_t *b, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) buf_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A JSON string literal of the n bytes at s. Bytes >= 0x80 are copied as they are, valid UTF-8
 * or not: Lean never sends invalid UTF-8, but this backend may on purpose (`bytes`). */
static void buf_json_str(buf_t *b, const char *s, size_t n) {
    buf_puts(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"') buf_puts(b, "\\\"");
        else if (c == '\\') buf_puts(b, "\\\\");
        else if (c == '\n') buf_puts(b, "\\n");
        else if (c == '\t') buf_puts(b, "\\t");
        else if (c < 0x20) buf_printf(b, "\\u%04x", c);
        else buf_put(b, (const char *)&c, 1);
    }
    buf_puts(b, "\"");
}

static char *buf_take(buf_t *b) {
    if (!b->data) buf_puts(b, "");
    return b->data;
}

/* Code points in the n bytes at s (continuation bytes are not counted). */
static uint32_t code_points(const char *s, size_t n) {
    uint32_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) k++;
    return k;
}

/* The byte offset of code point `cp` in s (the end of s if it is shorter). */
static size_t byte_offset(const char *s, uint32_t cp) {
    size_t i = 0;
    uint32_t k = 0;
    while (s[i]) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (k == cp) return i;
            k++;
        }
        i++;
    }
    return i;
}

/* ---------------------------------------------------------------------------------------------
 * State */

static int g_initialised = 0;
static char *g_init_error = NULL;
static unsigned g_cells = 0;

void xlean_backend_free(char *reply) { free(reply); }

char *xlean_backend_info(void) {
    return strdup("{\"name\":\"xlean test backend\",\"language_version\":\"0.0.0-test\","
                  "\"banner\":\"xlean test backend (no Lean): see docs/kernel-shell.md\"}");
}

char *xlean_backend_init(const char *options_json) {
    buf_t b = {0};
    g_initialised = 1;
    /* {"fail": "why"} makes initialisation fail, to test how the interpreter reports it. */
    const char *fail = options_json ? strstr(options_json, "\"fail\"") : NULL;
    if (fail) {
        const char *q = strchr(fail + 6, '"');
        const char *e = q ? strchr(q + 1, '"') : NULL;
        free(g_init_error);
        g_init_error = (q && e) ? strndup(q + 1, (size_t)(e - q - 1)) : strdup("init failed");
        buf_puts(&b, "{\"status\":\"error\",\"error\":");
        buf_json_str(&b, g_init_error, strlen(g_init_error));
        buf_puts(&b, "}");
    } else {
        buf_puts(&b, "{\"status\":\"ok\"}");
    }
    return buf_take(&b);
}

/* ---------------------------------------------------------------------------------------------
 * Stopping the module as Lean can (abort, oom, overflow, hang) */

/* Called through a volatile pointer, so that the compiler can neither see that the recursion
 * never ends nor turn it into a loop: every call takes a frame on the engine's call stack. */
static unsigned recurse(unsigned depth);
static unsigned (*volatile g_recurse)(unsigned) = recurse;
static unsigned recurse(unsigned depth) { return g_recurse(depth + 1) + 1; }

static volatile unsigned long g_spins;

/* Returns 0 if `w` bytes at s name none of them. */
static int run_fatal(const char *s, size_t w) {
#define IS(word) (w == sizeof(word) - 1 && strncmp(s, word, w) == 0)
    if (IS("abort")) abort();
    if (IS("oom")) {
        fprintf(stderr, "INTERNAL PANIC: out of memory\n");
        exit(1);
    }
    if (IS("overflow")) return (int)recurse(0);
    if (IS("hang"))
        for (;;) g_spins++;
#undef IS
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * execute */

typedef struct {
    buf_t out;      /* the "outputs" array being built */
    int first;      /* no output written yet */
    int errors;
    char *first_error; /* rendered "line:col: error: text" */
} cell_t;

static void cell_sep(cell_t *c) {
    if (!c->first) buf_puts(&c->out, ",");
    c->first = 0;
}

static void cell_message(cell_t *c, const char *severity, unsigned line, uint32_t end_col,
                         const char *text, size_t n) {
    cell_sep(c);
    buf_printf(&c->out, "{\"kind\":\"message\",\"severity\":\"%s\",\"line\":%u,\"col\":0,", severity,
               line);
    buf_printf(&c->out, "\"end_line\":%u,\"end_col\":%u,\"text\":", line, end_col);
    buf_json_str(&c->out, text, n);
    buf_puts(&c->out, "}");
    if (strcmp(severity, "error") == 0) {
        if (c->errors++ == 0) {
            buf_t r = {0};
            buf_printf(&r, "%u:0: error: ", line);
            buf_put(&r, text, n);
            c->first_error = buf_take(&r);
        }
    }
}

static int is_json_mime(const char *mime, size_t n) {
    return (n == 16 && strncmp(mime, "application/json", 16) == 0) ||
           (n >= 5 && strncmp(mime + n - 5, "+json", 5) == 0);
}

static int hex_digit(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    ch = (char)tolower((unsigned char)ch);
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    return -1;
}

/* Splits "WORD REST" at the first space: returns the length of WORD; *rest points after the
 * space (or at the end). */
static size_t split_word(const char *s, size_t n, const char **rest, size_t *rest_n) {
    size_t w = 0;
    while (w < n && s[w] != ' ') w++;
    size_t r = w < n ? w + 1 : w;
    *rest = s + r;
    *rest_n = n - r;
    return w;
}

static void run_line(cell_t *c, unsigned line, const char *s, size_t n) {
    uint32_t width = code_points(s, n);
    const char *arg;
    size_t arg_n;
    size_t w = split_word(s, n, &arg, &arg_n);
#define IS(word) (w == sizeof(word) - 1 && strncmp(s, word, w) == 0)
    if (IS("eval")) {
        long a = 0, b = 0;
        char tmp[64];
        snprintf(tmp, sizeof tmp, "%.*s", (int)(arg_n < 63 ? arg_n : 63), arg);
        if (sscanf(tmp, "%ld + %ld", &a, &b) == 2) {
            char sum[32];
            int k = snprintf(sum, sizeof sum, "%ld", a + b);
            cell_message(c, "info", line, width, sum, (size_t)k);
        } else {
            cell_message(c, "error", line, width, "eval expects `A + B`", 20);
        }
    } else if (IS("info") || IS("warning") || IS("error")) {
        char severity[8];
        snprintf(severity, sizeof severity, "%.*s", (int)w, s);
        cell_message(c, severity, line, width, arg, arg_n);
    } else if (IS("print")) {
        printf("%.*s\n", (int)arg_n, arg);
    } else if (IS("eprint")) {
        fprintf(stderr, "%.*s\n", (int)arg_n, arg);
    } else if (IS("show") || IS("display")) {
        const char *text;
        size_t text_n;
        size_t m = split_word(arg, arg_n, &text, &text_n);
        buf_t bundle = {0};
        buf_puts(&bundle, "{");
        buf_json_str(&bundle, arg, m);
        buf_puts(&bundle, ":");
        if (is_json_mime(arg, m)) buf_put(&bundle, text, text_n);
        else buf_json_str(&bundle, text, text_n);
        buf_puts(&bundle, "}");
        if (IS("show")) {
            /* STX "xlean.display" US json ETX, as XLean.Display.encode writes it */
            printf("\x02xlean.display\x1f%s\x03", bundle.data);
        } else {
            cell_sep(c);
            buf_puts(&c->out, "{\"kind\":\"display\",\"data\":");
            buf_puts(&c->out, bundle.data);
            buf_puts(&c->out, "}");
        }
        free(bundle.data);
    } else if (IS("stream")) {
        const char *text;
        size_t text_n;
        size_t m = split_word(arg, arg_n, &text, &text_n);
        cell_sep(c);
        buf_puts(&c->out, "{\"kind\":\"stream\",\"name\":");
        buf_json_str(&c->out, arg, m);
        buf_puts(&c->out, ",\"text\":");
        buf_json_str(&c->out, text, text_n);
        buf_puts(&c->out, "}");
    } else if (IS("bytes") || IS("printbytes")) {
        char raw[256];
        size_t k = 0;
        for (size_t i = 0; i < arg_n && k < sizeof raw;) {
            if (arg[i] == ' ') {
                i++;
                continue;
            }
            int hi = hex_digit(arg[i]), lo = i + 1 < arg_n ? hex_digit(arg[i + 1]) : -1;
            if (hi < 0 || lo < 0) break;
            raw[k++] = (char)(hi * 16 + lo);
            i += 2;
        }
        if (IS("bytes")) {
            cell_message(c, "info", line, width, raw, k);
        } else {
            fwrite(raw, 1, k, stdout);
            fputc('\n', stdout);
        }
    } else if (IS("getenv")) {
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(arg_n < 127 ? arg_n : 127), arg);
        const char *value = getenv(name);
        if (!value) value = "(unset)";
        cell_message(c, "info", line, width, value, strlen(value));
    } else if (IS("exists")) {
        char path[512], text[600];
        snprintf(path, sizeof path, "%.*s", (int)(arg_n < 511 ? arg_n : 511), arg);
        FILE *f = fopen(path, "rb");
        long size = -1;
        if (f && fseek(f, 0, SEEK_END) == 0) size = ftell(f);
        if (f) fclose(f);
        int k = size >= 0 ? snprintf(text, sizeof text, "%s: %ld bytes", path, size)
                          : snprintf(text, sizeof text, "%s: missing", path);
        cell_message(c, "info", line, width, text, (size_t)k);
    } else if (IS("import")) {
        /* accepted silently; what it made the glue load shows with `exists` */
    } else if (run_fatal(s, w)) {
        /* not reached: each of them stops the module */
    } else if (IS("count")) {
        char tmp[32];
        int k = snprintf(tmp, sizeof tmp, "%u", g_cells);
        cell_message(c, "info", line, width, tmp, (size_t)k);
    } else {
        buf_t msg = {0};
        buf_puts(&msg, "unknown command `");
        buf_put(&msg, s, w);
        buf_puts(&msg, "`");
        cell_message(c, "error", line, width, msg.data, msg.len);
        free(msg.data);
    }
#undef IS
}

char *xlean_backend_execute(const char *code, uint32_t execution_count) {
    (void)execution_count;
    buf_t b = {0};
    if (g_init_error || !g_initialised) {
        const char *why = g_init_error ? g_init_error : "xlean_backend_init was not called";
        buf_puts(&b, "{\"status\":\"error\",\"ename\":\"BackendUnavailable\",\"evalue\":");
        buf_json_str(&b, why, strlen(why));
        buf_puts(&b, ",\"outputs\":[]}");
        return buf_take(&b);
    }
    g_cells++;
    if (strcmp(code, "garbage") == 0) return strdup("this is {not JSON");
    if (strcmp(code, "null") == 0) return NULL;

    cell_t c = {.first = 1};
    buf_puts(&c.out, "[");
    unsigned line = 1;
    for (const char *p = code; *p; line++) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n > 0 && p[n - 1] == '\r') n--;
        if (n > 0 && strncmp(p, "--", 2) != 0) run_line(&c, line, p, n);
        if (!e) break;
        p = e + 1;
    }
    buf_puts(&c.out, "]");
    fflush(stdout);
    fflush(stderr);

    buf_printf(&b, "{\"status\":\"%s\",\"outputs\":", c.errors ? "error" : "ok");
    buf_puts(&b, c.out.data);
    if (c.errors) {
        buf_puts(&b, ",\"ename\":\"Lean error\",\"evalue\":");
        buf_json_str(&b, c.first_error, strlen(c.first_error));
    }
    buf_puts(&b, "}");
    free(c.out.data);
    free(c.first_error);
    return buf_take(&b);
}

/* ---------------------------------------------------------------------------------------------
 * complete, inspect, is_complete */

static const struct {
    const char *name;
    const char *kind;
    const char *doc; /* NULL: not documented */
} k_vocabulary[] = {
    {"eval", "keyword", "eval A + B: the sum, as an info message"},
    {"info", "keyword", NULL},
    {"warning", "keyword", NULL},
    {"error", "keyword", NULL},
    {"print", "keyword", "print T: writes T to the C stdout"},
    {"eprint", "keyword", NULL},
    {"show", "keyword", NULL},
    {"display", "keyword", NULL},
    {"stream", "keyword", NULL},
    {"bytes", "keyword", NULL},
    {"count", "keyword", NULL},
    {"getenv", "keyword", NULL},
    {"exists", "keyword", NULL},
    {"printbytes", "keyword", NULL},
    {"abort", "keyword", NULL},
    {"oom", "keyword", NULL},
    {"overflow", "keyword", NULL},
    {"hang", "keyword", NULL},
    {"Nat", "inductive", "The natural numbers."},
    {"Nat.add", "def", "Addition of natural numbers."},
    {"Nat.succ", "constructor", "The successor of a natural number."},
    {"Nat.zero", "constructor", NULL},
    {"String", "structure", "UTF-8 strings."},
    {"String.append", "def", NULL},
    {"\xce\xb1\xce\xb2\xce\xb3", "def", "A name in Greek letters (\xce\xb1\xce\xb2\xce\xb3)."},
};
#define VOCABULARY_SIZE (sizeof k_vocabulary / sizeof k_vocabulary[0])

static int is_word_byte(unsigned char ch) {
    return ch >= 0x80 || isalnum(ch) || ch == '_' || ch == '.' || ch == '\'';
}

char *xlean_backend_complete(const char *code, uint32_t cursor_pos) {
    /* The Lean side's error shape, to test how the interpreter passes it on. */
    if (strncmp(code, "fail", 4) == 0)
        return strdup("{\"status\":\"error\",\"error\":\"xlean complete: no session\"}");
    size_t end = byte_offset(code, cursor_pos);
    size_t start = end;
    while (start > 0 && is_word_byte((unsigned char)code[start - 1])) start--;
    size_t plen = end - start;
    uint32_t cp_start = code_points(code, start);

    buf_t b = {0};
    buf_printf(&b, "{\"status\":\"ok\",\"cursor_start\":%u,\"cursor_end\":%u,\"matches\":[",
               cp_start, cursor_pos);
    buf_t items = {0};
    int first = 1;
    for (size_t i = 0; i < VOCABULARY_SIZE; i++) {
        const char *name = k_vocabulary[i].name;
        if (strncmp(name, code + start, plen) != 0) continue;
        if (!first) {
            buf_puts(&b, ",");
            buf_puts(&items, ",");
        }
        first = 0;
        buf_json_str(&b, name, strlen(name));
        buf_puts(&items, "{\"text\":");
        buf_json_str(&items, name, strlen(name));
        buf_puts(&items, ",\"kind\":");
        buf_json_str(&items, k_vocabulary[i].kind, strlen(k_vocabulary[i].kind));
        buf_puts(&items, "}");
    }
    buf_puts(&b, "],\"items\":[");
    if (items.data) buf_puts(&b, items.data);
    buf_puts(&b, "]}");
    free(items.data);
    return buf_take(&b);
}

char *xlean_backend_inspect(const char *code, uint32_t cursor_pos, uint32_t detail_level) {
    (void)detail_level;
    size_t at = byte_offset(code, cursor_pos);
    size_t start = at, end = at;
    while (start > 0 && is_word_byte((unsigned char)code[start - 1])) start--;
    while (code[end] && is_word_byte((unsigned char)code[end])) end++;
    for (size_t i = 0; i < VOCABULARY_SIZE; i++) {
        const char *name = k_vocabulary[i].name;
        if (!k_vocabulary[i].doc || strlen(name) != end - start ||
            strncmp(name, code + start, end - start) != 0)
            continue;
        buf_t plain = {0}, md = {0}, b = {0};
        buf_printf(&plain, "%s : %s\n\n%s", name, k_vocabulary[i].kind, k_vocabulary[i].doc);
        buf_printf(&md, "```lean\n%s : %s\n```\n\n%s", name, k_vocabulary[i].kind,
                   k_vocabulary[i].doc);
        buf_puts(&b, "{\"status\":\"ok\",\"found\":true,\"data\":{\"text/plain\":");
        buf_json_str(&b, plain.data, plain.len);
        buf_puts(&b, ",\"text/markdown\":");
        buf_json_str(&b, md.data, md.len);
        buf_puts(&b, "}}");
        free(plain.data);
        free(md.data);
        return buf_take(&b);
    }
    return strdup("{\"status\":\"ok\",\"found\":false,\"data\":{}}");
}

char *xlean_backend_is_complete(const char *code) {
    int depth = 0;
    for (const char *p = code; *p; p++) {
        if (*p == '(' || *p == '[' || *p == '{') depth++;
        if (*p == ')' || *p == ']' || *p == '}') depth--;
        if (depth < 0) return strdup("{\"status\":\"invalid\"}");
    }
    size_t n = strlen(code);
    while (n > 0 && isspace((unsigned char)code[n - 1])) n--;
    int open_end = (n >= 2 && strncmp(code + n - 2, ":=", 2) == 0) ||
                   (n >= 3 && strncmp(code + n - 3, " by", 3) == 0);
    if (depth > 0 || open_end) return strdup("{\"status\":\"incomplete\",\"indent\":\"  \"}");
    return strdup("{\"status\":\"complete\"}");
}
