/*
xlean's stand-in for libuv's <uv.h> in the wasm64 build, which has no libuv.

lean4's runtime includes <uv.h> and uses libuv in a few places that no LEAN_EMSCRIPTEN guard
covers; everything else that uses libuv (src/runtime/uv/*, libuv.cpp, the event loop) is guarded
and compiled out. This header declares exactly what src/runtime/io.cpp uses unguarded in lean4
v4.28.0: the error codes and `uv_strerror` (for `lean_decode_uv_error`), `UV_VERSION_HEX`, and
the calls behind `IO.FS.createTempFile`/`createTempDir` (`uv_os_tmpdir`, `uv_fs_mkstemp`,
`uv_fs_mkdtemp`, `uv_fs_req_cleanup` and the two `uv_fs_t` fields read). The functions, in
uv_stubs.c, return UV_ENOSYS: those IO actions fail with "function not implemented".
It must be first on the include path. If a new lean4 tag uses another libuv name unguarded, the
build stops with "undeclared identifier": add that name here, with a stub.
*/
#ifndef XLEAN_UV_STUB_H
#define XLEAN_UV_STUB_H

#include <errno.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* No libuv: version 0, so version-gated code (`#if UV_VERSION_HEX >= ...`) takes the oldest path. */
#define UV_VERSION_MAJOR 0
#define UV_VERSION_MINOR 0
#define UV_VERSION_PATCH 0
#define UV_VERSION_HEX 0

/* Error codes, as libuv defines them on Unix: the negated errno value. */
#define UV_E2BIG           (-E2BIG)
#define UV_EACCES          (-EACCES)
#define UV_EADDRINUSE      (-EADDRINUSE)
#define UV_EADDRNOTAVAIL   (-EADDRNOTAVAIL)
#define UV_EAFNOSUPPORT    (-EAFNOSUPPORT)
#define UV_EAGAIN          (-EAGAIN)
#define UV_EBADF           (-EBADF)
#define UV_EBUSY           (-EBUSY)
#define UV_ECONNABORTED    (-ECONNABORTED)
#define UV_ECONNREFUSED    (-ECONNREFUSED)
#define UV_ECONNRESET      (-ECONNRESET)
#define UV_EDESTADDRREQ    (-EDESTADDRREQ)
#define UV_EEXIST          (-EEXIST)
#define UV_EFAULT          (-EFAULT)
#define UV_EFBIG           (-EFBIG)
#define UV_EHOSTUNREACH    (-EHOSTUNREACH)
#define UV_EILSEQ          (-EILSEQ)
#define UV_EINTR           (-EINTR)
#define UV_EINVAL          (-EINVAL)
#define UV_EIO             (-EIO)
#define UV_EISCONN         (-EISCONN)
#define UV_EISDIR          (-EISDIR)
#define UV_ELOOP           (-ELOOP)
#define UV_EMFILE          (-EMFILE)
#define UV_EMLINK          (-EMLINK)
#define UV_EMSGSIZE        (-EMSGSIZE)
#define UV_ENAMETOOLONG    (-ENAMETOOLONG)
#define UV_ENETDOWN        (-ENETDOWN)
#define UV_ENETUNREACH     (-ENETUNREACH)
#define UV_ENFILE          (-ENFILE)
#define UV_ENOBUFS         (-ENOBUFS)
#define UV_ENODATA         (-ENODATA)
#define UV_ENODEV          (-ENODEV)
#define UV_ENOENT          (-ENOENT)
#define UV_ENOMEM          (-ENOMEM)
#define UV_ENOPROTOOPT     (-ENOPROTOOPT)
#define UV_ENOSPC          (-ENOSPC)
#define UV_ENOSYS          (-ENOSYS)
#define UV_ENOTCONN        (-ENOTCONN)
#define UV_ENOTDIR         (-ENOTDIR)
#define UV_ENOTEMPTY       (-ENOTEMPTY)
#define UV_ENOTSOCK        (-ENOTSOCK)
#define UV_ENOTSUP         (-ENOTSUP)
#define UV_ENOTTY          (-ENOTTY)
#define UV_ENXIO           (-ENXIO)
#define UV_EPERM           (-EPERM)
#define UV_EPIPE           (-EPIPE)
#define UV_EPROTO          (-EPROTO)
#define UV_EPROTONOSUPPORT (-EPROTONOSUPPORT)
#define UV_EPROTOTYPE      (-EPROTOTYPE)
#define UV_ERANGE          (-ERANGE)
#define UV_EROFS           (-EROFS)
#define UV_ESPIPE          (-ESPIPE)
#define UV_ESRCH           (-ESRCH)
#define UV_ETIMEDOUT       (-ETIMEDOUT)
#define UV_ETXTBSY         (-ETXTBSY)
#define UV_EXDEV           (-EXDEV)

/* The message for an error code ("function not implemented" for UV_ENOSYS). */
const char * uv_strerror(int err);

/* A loop is never created: the file-system calls are only ever called with a NULL loop. */
typedef struct uv_loop_s uv_loop_t;

/* A file-system request. libuv's has more fields; io.cpp reads these two. */
typedef struct uv_fs_s {
    void *       data;
    ssize_t      result;
    const char * path;
} uv_fs_t;

typedef void (*uv_fs_cb)(uv_fs_t * req);

int  uv_os_tmpdir(char * buffer, size_t * size);
int  uv_fs_mkstemp(uv_loop_t * loop, uv_fs_t * req, const char * tpl, uv_fs_cb cb);
int  uv_fs_mkdtemp(uv_loop_t * loop, uv_fs_t * req, const char * tpl, uv_fs_cb cb);
void uv_fs_req_cleanup(uv_fs_t * req);

#ifdef __cplusplus
}
#endif

#endif /* XLEAN_UV_STUB_H */
