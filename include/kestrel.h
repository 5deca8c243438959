/* kestrel.h - public C API of the Kestrel LLM engine.
 *
 * Conventions: functions that can fail return a ks_status (KS_OK == 0, errors
 * negative) and take a nullable ks_err * last, filled with a one-line message.
 * Nothing in the library prints, exits or aborts on bad input. Every object
 * with a _free function owns its memory; _free accepts NULL.
 */
#ifndef KESTREL_H
#define KESTREL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KS_VERSION_STRING "0.1.0"

typedef enum ks_status {
    KS_OK = 0,
    KS_ERR_IO = -1,          /* open/read/mmap failed */
    KS_ERR_FORMAT = -2,      /* malformed file contents (bad magic, bad value) */
    KS_ERR_TRUNCATED = -3,   /* file ends before the data it declares */
    KS_ERR_UNSUPPORTED = -4, /* valid but not implemented (type, arch, version) */
    KS_ERR_NOMEM = -5,       /* allocation failed */
    KS_ERR_INVALID_ARG = -6, /* caller passed a bad argument */
    KS_ERR_LIMIT = -7,       /* a count or size exceeds a configured limit */
    KS_ERR_NOT_FOUND = -8,   /* a required key or tensor is missing */
    KS_ERR_NO_KV_SLOT = -9,  /* the KV cache has no room for a batch (nothing was changed) */
} ks_status;

/* Error details: filled by the function that fails; msg is always NUL-terminated. */
typedef struct ks_err {
    ks_status code;
    char msg[512];
} ks_err;

/* Sets err (if non-NULL) and returns code. */
ks_status ks_err_set(ks_err *err, ks_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Short name of a status ("truncated", ...). Never NULL. */
const char *ks_status_str(ks_status s);

#ifdef __cplusplus
}
#endif
#endif /* KESTREL_H */
