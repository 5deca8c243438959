/* outfile.h - the one output policy of every command that writes a file
 * (quantize, convert, logits; later train, export, finetune).
 *
 * ks_outfile_open checks the output before any work is done and refuses:
 *  - an output that is the same file as an input (device and inode, through
 *    symbolic links and hard links; an input folder stands for every file in it);
 *  - an output that exists and is not a regular file (directory, FIFO, device,
 *    socket) or is a symbolic link (replacing it would break the link, writing
 *    through it would follow a link someone else may have planted);
 * then creates the temporary file ".NAME.XXXXXX" beside the output (O_EXCL, a
 * fresh name: never an input, never a planted link), which proves the folder
 * exists and is writable; an output that is replaced keeps its permission bits.
 * Data goes to the temporary file; ks_outfile_commit
 * flushes and fsyncs it, renames it over the output and fsyncs the folder. The
 * output path is untouched until that rename: a failure or an interrupt leaves
 * the old file (if any) as it was.
 *
 * Every temporary path is kept in a fixed static list until it is renamed or
 * removed; ks_outfile_unlink_all removes them all and is async-signal-safe, for
 * a SIGINT/SIGTERM handler (the CLI installs one: cli/cli.h). Messages carry the
 * OS reason (strerror). */
#ifndef KS_OUTFILE_H
#define KS_OUTFILE_H
#include <stdio.h>

#include "kestrel.h"

typedef struct ks_outfile {
    FILE *f;    /* the temporary file while open for writing, else NULL */
    char *path; /* the output path (owned) */
    int slot;   /* 1 + index of the temporary path in the cleanup list; 0 when none */
    int errnum; /* errno of the first failed write, 0 if none */
} ks_outfile;

/* Checks path against the policy above (inputs: n_inputs paths of files or
 * folders that the command reads; NULL entries and missing paths are skipped)
 * and creates its temporary file. KS_ERR_INVALID_ARG for a refused output,
 * KS_ERR_IO when the temporary file cannot be created ("cannot create PATH:
 * <strerror>"), KS_ERR_LIMIT when too many outputs are open at once. On error *of
 * is left closed (safe to discard). */
ks_status ks_outfile_open(ks_outfile *of, const char *path, const char *const *inputs, size_t n_inputs, ks_err *err);
/* The temporary file's path (borrowed, valid until commit or discard), NULL if none. */
const char *ks_outfile_tmp_path(const ks_outfile *of);
/* KS_ERR_IO when bytes more would not fit: more than the file system holding the temporary
 * file has free ("PATH: needs 136.4 MiB but its file system has 0.1 MiB free: No space left on
 * device") or than the file-size limit (RLIMIT_FSIZE: "...: File too large"). A check before
 * long work, not a reservation: the writes report their own errors. */
ks_status ks_outfile_check_space(const ks_outfile *of, uint64_t bytes, ks_err *err);
/* Appends n bytes. KS_ERR_IO ("PATH: write failed: <strerror>") on the first failure;
 * later writes fail the same way. */
ks_status ks_outfile_write(ks_outfile *of, const void *p, size_t n, ks_err *err);
/* Flushes, fsyncs and closes the temporary file, which stays in place (and in the
 * cleanup list): it can then be read back as an intermediate. KS_ERR_IO on failure. */
ks_status ks_outfile_close(ks_outfile *of, ks_err *err);
/* Closes (as ks_outfile_close) and renames the temporary file over the output, then
 * fsyncs the folder. On failure the temporary file is removed, the output left as it
 * was. Either way *of is released (as by ks_outfile_discard). */
ks_status ks_outfile_commit(ks_outfile *of, ks_err *err);
/* Closes and removes the temporary file, frees *of; accepts a closed or zeroed one. */
void ks_outfile_discard(ks_outfile *of);
/* Removes every registered temporary file. Async-signal-safe (unlink only). */
void ks_outfile_unlink_all(void);
#endif
