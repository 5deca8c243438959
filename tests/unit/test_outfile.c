/* test_outfile.c - the output policy module (base/outfile.h) through its API: a committed file
 * replaces the old one (keeping its permission bits) and leaves no temporary file; a discard or
 * a write error (a file-size limit: EFBIG) leaves the old file and no temporary file, with the
 * OS reason in the message; ks_outfile_unlink_all (the signal handler's call) removes every open
 * temporary file; the space check; at most 8 outputs at once; refusals by inode. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/outfile.h"
#include "ks_test.h"

static char dir[256];

static void path_of(char *buf, size_t cap, const char *name) { snprintf(buf, cap, "%s/%s", dir, name); }

static int n_hidden(void) {
    int n = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] == '.' && strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d) closedir(d);
    return n;
}

static void put(const char *path, const char *text, mode_t mode) {
    FILE *f = fopen(path, "w");
    if (f) fputs(text, f), fclose(f);
    chmod(path, mode);
}

/* out = DIR/name holding "old" with mode, and that path opened as an output */
static ks_status open_over_old(char *out, size_t cap, const char *name, mode_t mode, ks_outfile *of, ks_err *err) {
    path_of(out, cap, name);
    put(out, "old", mode);
    return ks_outfile_open(of, out, NULL, 0, err);
}

static bool holds(const char *path, const char *text) {
    char buf[64] = {0};
    FILE *f = fopen(path, "r");
    if (!f) return false;
    const size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    return n == strlen(text) && !memcmp(buf, text, n);
}

static void check_commit_and_discard(void) {
    char out[300];
    ks_outfile of;
    ks_err err = {0};
    CHECK(open_over_old(out, sizeof out, "out.bin", 0640, &of, &err) == KS_OK, "open: %s", err.msg);
    CHECK(ks_outfile_tmp_path(&of) && strstr(ks_outfile_tmp_path(&of), "/.out.bin.") && n_hidden() == 1,
          "temporary name %s", ks_outfile_tmp_path(&of) ? ks_outfile_tmp_path(&of) : "(none)");
    CHECK(ks_outfile_write(&of, "new", 3, &err) == KS_OK && holds(out, "old"), "the output changes before the commit");
    CHECK(ks_outfile_commit(&of, &err) == KS_OK, "commit: %s", err.msg);
    struct stat st;
    CHECK(holds(out, "new") && n_hidden() == 0 && stat(out, &st) == 0 && (st.st_mode & 0777) == 0640,
          "after commit: mode %o, hidden %d", (unsigned)(st.st_mode & 0777), n_hidden());
    CHECK(ks_outfile_open(&of, out, NULL, 0, &err) == KS_OK && ks_outfile_write(&of, "xyz", 3, &err) == KS_OK,
          "reopen");
    ks_outfile_discard(&of);
    ks_outfile_discard(&of); /* twice, and on a zeroed one: safe */
    CHECK(holds(out, "new") && n_hidden() == 0, "discard changed the output or left a file");
}

static void check_write_error(void) {
    char out[300];
    ks_outfile of;
    ks_err err = {0};
    CHECK(open_over_old(out, sizeof out, "big.bin", 0644, &of, &err) == KS_OK, "open: %s", err.msg);
    struct rlimit old, lim = {4096, 4096};
    getrlimit(RLIMIT_FSIZE, &old);
    lim.rlim_max = old.rlim_max;
    signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &lim);
    static char buf[16384];
    CHECK(ks_outfile_check_space(&of, sizeof buf, &err) == KS_ERR_IO && strstr(err.msg, "file-size limit") &&
              strstr(err.msg, "File too large"),
          "space check against the limit: %s", err.msg);
    ks_status s = ks_outfile_write(&of, buf, sizeof buf, &err);
    if (!s)
        s = ks_outfile_commit(&of, &err);
    else
        ks_outfile_discard(&of);
    setrlimit(RLIMIT_FSIZE, &old);
    CHECK(s == KS_ERR_IO && strstr(err.msg, "big.bin: write failed: File too large"), "write past the limit: %s",
          err.msg);
    CHECK(holds(out, "old") && n_hidden() == 0, "a failed write changed the output or left a file");
    CHECK(ks_outfile_open(&of, out, NULL, 0, &err) == KS_OK && ks_outfile_check_space(&of, 1024, &err) == KS_OK &&
              ks_outfile_check_space(&of, (uint64_t)1 << 62, &err) == KS_ERR_IO &&
              strstr(err.msg, "No space left on device"),
          "space check: %s", err.msg);
    ks_outfile_discard(&of);
}

static void check_signal_list(void) {
    ks_outfile of[9];
    ks_err err = {0};
    char out[300];
    int n_open = 0;
    for (int i = 0; i < 9; i++) {
        snprintf(out, sizeof out, "%s/o%d.bin", dir, i);
        ks_status s = ks_outfile_open(&of[i], out, NULL, 0, &err);
        n_open += s == KS_OK;
        if (i == 8) CHECK(s == KS_ERR_LIMIT, "a 9th output: %d %s", s, err.msg);
    }
    CHECK(n_open == 8 && n_hidden() == 8, "8 outputs open: %d, %d files", n_open, n_hidden());
    ks_outfile_unlink_all();
    CHECK(n_hidden() == 0, "unlink_all left %d files", n_hidden());
    for (int i = 0; i < 9; i++) ks_outfile_discard(&of[i]);
    CHECK(ks_outfile_open(&of[0], out, NULL, 0, &err) == KS_OK, "slots are free again: %s", err.msg);
    ks_outfile_discard(&of[0]);
}

static void check_refusals(void) {
    char in[300], hard[300], sub[300];
    path_of(in, sizeof in, "in.bin");
    path_of(hard, sizeof hard, "hard.bin");
    path_of(sub, sizeof sub, "sub");
    put(in, "input", 0644);
    link(in, hard);
    mkdir(sub, 0755);
    ks_outfile of;
    ks_err err = {0};
    const char *inputs[] = {NULL, in};
    CHECK(ks_outfile_open(&of, hard, inputs, 2, &err) == KS_ERR_INVALID_ARG &&
              strstr(err.msg, "same file as the input"),
          "hard link: %s", err.msg);
    const char *folder[] = {dir};
    CHECK(ks_outfile_open(&of, in, folder, 1, &err) == KS_ERR_INVALID_ARG && strstr(err.msg, "same file as the input"),
          "a file of an input folder: %s", err.msg);
    CHECK(ks_outfile_open(&of, sub, NULL, 0, &err) == KS_ERR_INVALID_ARG && strstr(err.msg, "is a directory"),
          "dir: %s", err.msg);
    CHECK(ks_outfile_open(&of, "", NULL, 0, &err) == KS_ERR_INVALID_ARG, "empty path: %s", err.msg);
    char deep[5000];
    memset(deep, 'a', sizeof deep - 1);
    deep[sizeof deep - 1] = '\0';
    CHECK(ks_outfile_open(&of, deep, NULL, 0, &err) == KS_ERR_IO && strstr(err.msg, "File name too long"), "long: %s",
          err.msg);
    CHECK(holds(in, "input") && n_hidden() == 0, "a refusal changed the input or left a file");
    remove(in), remove(hard), rmdir(sub);
}

int main(void) {
    snprintf(dir, sizeof dir, "%s/ks_outfile_XXXXXX", ks_test_env("TMPDIR", "/tmp"));
    if (!mkdtemp(dir)) return 1;
    check_commit_and_discard();
    check_write_error();
    check_signal_list();
    check_refusals();
    char p[300];
    static const char *const names[] = {"out.bin", "big.bin", "o0.bin", "o1.bin", "o2.bin", "o3.bin",
                                        "o4.bin",  "o5.bin",  "o6.bin", "o7.bin", "o8.bin"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) path_of(p, sizeof p, names[i]), remove(p);
    rmdir(dir);
    TEST_DONE();
}
