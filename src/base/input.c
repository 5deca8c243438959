/* input.c - size-capped readers for text files and lines (see input.h). */
#include "base/input.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/checked.h"

void ks_size_str(size_t n, char *buf, size_t cap) {
    if (n && n % ((size_t)1 << 20) == 0) snprintf(buf, cap, "%zu MiB", n >> 20);
    else if (n && n % 1024 == 0) snprintf(buf, cap, "%zu KiB", n >> 10);
    else snprintf(buf, cap, "%zu bytes", n);
}

static ks_status too_large(const char *path, size_t max_bytes, ks_err *err) {
    char lim[48];
    ks_size_str(max_bytes, lim, sizeof lim);
    return ks_err_set(err, KS_ERR_LIMIT, "%s: larger than the limit of %s for a text file", path, lim);
}

/* reads f to its end into *buf (length *n, capacity *cap), at most max_bytes + 1 bytes */
static ks_status read_stream(FILE *f, const char *path, size_t max_bytes, uint8_t **buf, size_t *n, ks_err *err) {
    size_t cap = 0;
    for (;;) {
        if (*n > max_bytes) return too_large(path, max_bytes, err);
        size_t want = *n < (size_t)1 << 16 ? (size_t)1 << 16 : *n; /* doubling, but never past the cap + 1 */
        if (want > max_bytes + 1 - *n) want = max_bytes + 1 - *n;
        if (!KS_RESERVE(*buf, cap, *n, want + 1)) return ks_err_set(err, KS_ERR_NOMEM, "out of memory reading %s", path);
        size_t r = fread(*buf + *n, 1, want, f);
        *n += r;
        if (r < want) break;
    }
    if (ferror(f)) return ks_err_set(err, KS_ERR_IO, "%s: read error: %s", path, strerror(errno));
    if (*n > max_bytes) return too_large(path, max_bytes, err);
    (*buf)[*n] = 0;
    return KS_OK;
}

ks_status ks_file_read_max(const char *path, size_t max_bytes, uint8_t **data, size_t *size, ks_err *err) {
    *data = NULL;
    *size = 0;
    if (!max_bytes) max_bytes = KS_INPUT_FILE_MAX;
    if (max_bytes == SIZE_MAX) max_bytes--; /* room for the + 1 that detects "more" */
    FILE *f = fopen(path, "rb");
    if (!f) return ks_err_set(err, KS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    ks_status s = KS_OK;
    const bool known = fstat(fileno(f), &st) == 0;
    if (known && S_ISDIR(st.st_mode)) s = ks_err_set(err, KS_ERR_IO, "%s: is a directory", path);
    else if (known && S_ISREG(st.st_mode) && (uint64_t)st.st_size > max_bytes) s = too_large(path, max_bytes, err);
    uint8_t *buf = NULL;
    size_t n = 0;
    if (!s) s = read_stream(f, path, max_bytes, &buf, &n, err);
    fclose(f);
    if (s) {
        free(buf);
        return s;
    }
    *data = buf;
    *size = n;
    return KS_OK;
}

ks_status ks_file_read_all(const char *path, uint8_t **data, size_t *size, ks_err *err) {
    return ks_file_read_max(path, 0, data, size, err);
}

ks_status ks_line_read(FILE *f, const char *name, size_t max_bytes, char **line, size_t *len, ks_err *err) {
    *line = NULL;
    if (len) *len = 0;
    if (!max_bytes) max_bytes = KS_INPUT_LINE_MAX;
    char *s = NULL;
    size_t n = 0, cap = 0;
    int ch = EOF;
    while ((ch = getc(f)) != EOF && ch != '\n') {
        if (n >= max_bytes) {
            free(s);
            char lim[48];
            ks_size_str(max_bytes, lim, sizeof lim);
            return ks_err_set(err, KS_ERR_LIMIT, "%s: a line longer than the limit of %s", name, lim);
        }
        if (!KS_RESERVE(s, cap, n, 2)) {
            free(s);
            return ks_err_set(err, KS_ERR_NOMEM, "out of memory reading %s", name);
        }
        s[n++] = (char)ch;
    }
    if (ch == EOF && n == 0) return ferror(f) ? ks_err_set(err, KS_ERR_IO, "%s: read error", name) : KS_OK;
    if (!s && !(s = malloc(1))) return ks_err_set(err, KS_ERR_NOMEM, "out of memory reading %s", name);
    if (n && s[n - 1] == '\r') n--;
    s[n] = '\0';
    *line = s;
    if (len) *len = n;
    return KS_OK;
}
