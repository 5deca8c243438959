/* input.h - size-capped readers for user input: whole text files (-f) and lines
 * (chat turns on stdin). Input from pipes and devices (/dev/zero, an endless
 * stream) is read only up to the cap plus one byte, so memory stays bounded;
 * a regular file larger than the cap is refused from its size, unread. */
#ifndef KS_INPUT_H
#define KS_INPUT_H
#include <stdio.h>

#include "kestrel.h"

#define KS_INPUT_FILE_MAX ((size_t)256 << 20) /* default cap of a text file: 256 MiB */
#define KS_INPUT_LINE_MAX ((size_t)4 << 20)   /* default cap of one input line: 4 MiB */

/* Reads the file at path into a malloc'ed buffer (*data, caller frees; a NUL
 * follows the *size bytes). max_bytes 0 means KS_INPUT_FILE_MAX. Errors:
 * KS_ERR_LIMIT "PATH: larger than the limit of N MiB for a text file";
 * KS_ERR_IO for a folder ("PATH: is a directory"), a missing or unreadable
 * file. On error *data is NULL and *size 0. */
ks_status ks_file_read_max(const char *path, size_t max_bytes, uint8_t **data, size_t *size, ks_err *err);
/* ks_file_read_max with the default cap. */
ks_status ks_file_read_all(const char *path, uint8_t **data, size_t *size, ks_err *err);

/* Reads one line of f (name: for messages, e.g. "stdin") without its '\n' or a
 * trailing '\r' into *line (malloc'ed, NUL-terminated, caller frees; *len its
 * length, len may be NULL). At the end of input returns KS_OK with *line NULL.
 * KS_ERR_LIMIT "NAME: a line longer than the limit of N MiB" when the line
 * exceeds max_bytes (0 means KS_INPUT_LINE_MAX): nothing past the limit is read. */
ks_status ks_line_read(FILE *f, const char *name, size_t max_bytes, char **line, size_t *len, ks_err *err);

/* Writes n bytes as "N MiB" / "N KiB" when exact, else "N bytes", into buf. */
void ks_size_str(size_t n, char *buf, size_t cap);
#endif
