/* err.c - status codes and the caller-supplied error record. */
#include "kestrel.h"

#include <stdio.h>

ks_status ks_err_set(ks_err *err, ks_status code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

const char *ks_status_str(ks_status s) {
    switch (s) {
    case KS_OK: return "ok";
    case KS_ERR_IO: return "i/o error";
    case KS_ERR_FORMAT: return "bad format";
    case KS_ERR_TRUNCATED: return "truncated";
    case KS_ERR_UNSUPPORTED: return "unsupported";
    case KS_ERR_NOMEM: return "out of memory";
    case KS_ERR_INVALID_ARG: return "invalid argument";
    case KS_ERR_LIMIT: return "limit exceeded";
    case KS_ERR_NOT_FOUND: return "not found";
    case KS_ERR_NO_KV_SLOT: return "no KV cache slot";
    case KS_ERR_ABORTED: return "aborted";
    }
    return "unknown error";
}
