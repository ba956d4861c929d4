/*
xlean's stubs for the libuv functions declared in stubs/uv.h: the wasm64 build has no libuv, so
each one fails with UV_ENOSYS and leaves its outputs empty. Only uv_strerror does real work, so
that the errors lean4 reports say what happened.
*/
#include <string.h>
#include "uv.h"

const char * uv_strerror(int err) {
    if (err < 0) return strerror(-err);
    return "unknown libuv error";
}

int uv_os_tmpdir(char * buffer, size_t * size) {
    if (buffer != NULL && *size > 0) buffer[0] = '\0';
    *size = 0;
    return UV_ENOSYS;
}

static int fs_unsupported(uv_fs_t * req) {
    req->data = NULL;
    req->result = UV_ENOSYS;
    req->path = NULL;
    return UV_ENOSYS;
}

int uv_fs_mkstemp(uv_loop_t * loop, uv_fs_t * req, const char * tpl, uv_fs_cb cb) {
    (void)loop; (void)tpl; (void)cb;
    return fs_unsupported(req);
}

int uv_fs_mkdtemp(uv_loop_t * loop, uv_fs_t * req, const char * tpl, uv_fs_cb cb) {
    (void)loop; (void)tpl; (void)cb;
    return fs_unsupported(req);
}

void uv_fs_req_cleanup(uv_fs_t * req) {
    req->path = NULL;
}
