/* outfile.c - output files: checked up front, written to a fresh temporary file
 * beside the output, renamed over it at the end (see outfile.h).
 *
 * The cleanup list is a fixed static table so that a signal handler can walk it:
 * a slot's state goes FREE -> CLAIMED (its path being written) -> ACTIVE (the
 * file exists; the handler unlinks it) -> FREE, by atomic stores. */
#include "base/outfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define SLOTS 8
#define SLOT_PATH 4160 /* PATH_MAX and the temporary name's extra characters */
#define BASE_KEEP 200  /* at most this much of the output's name goes into the temporary name (NAME_MAX 255) */

enum { SLOT_FREE, SLOT_CLAIMED, SLOT_ACTIVE };
static char slot_path[SLOTS][SLOT_PATH];
static atomic_int slot_state[SLOTS];

void ks_outfile_unlink_all(void) {
    for (int i = 0; i < SLOTS; i++)
        if (atomic_load(&slot_state[i]) == SLOT_ACTIVE) unlink(slot_path[i]);
}

const char *ks_outfile_tmp_path(const ks_outfile *of) { return of && of->slot ? slot_path[of->slot - 1] : NULL; }

static int slot_claim(void) {
    for (int i = 0; i < SLOTS; i++) {
        int expect = SLOT_FREE;
        if (atomic_compare_exchange_strong(&slot_state[i], &expect, SLOT_CLAIMED)) return i + 1;
    }
    return 0;
}

static const char *kind_of(mode_t m) {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISLNK(m)) return "a symbolic link";
    return "not a regular file";
}

static bool same_inode(const struct stat *a, const struct stat *b) {
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* the name of the entry of folder dir that is the file *so, written to buf; false if none */
static bool folder_holds(const char *dir, const struct stat *so, char *buf, size_t cap) {
    DIR *d = opendir(dir);
    if (!d) return false;
    bool found = false;
    for (struct dirent *e; !found && (e = readdir(d));) {
        struct stat si;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        const int n = snprintf(buf, cap, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", e->d_name);
        found = n > 0 && (size_t)n < cap && stat(buf, &si) == 0 && same_inode(&si, so);
    }
    closedir(d);
    return found;
}

/* KS_ERR_INVALID_ARG if the existing output *so is one of the inputs (or a file in an input folder) */
static ks_status check_inputs(const char *path, const struct stat *so, const char *const *inputs, size_t n_inputs,
                              ks_err *err) {
    char hit[SLOT_PATH];
    for (size_t i = 0; i < n_inputs; i++) {
        struct stat si;
        if (!inputs[i] || stat(inputs[i], &si) != 0) continue;
        bool same = same_inode(&si, so);
        if (same)
            snprintf(hit, sizeof hit, "%s", inputs[i]);
        else if (S_ISDIR(si.st_mode))
            same = folder_holds(inputs[i], so, hit, sizeof hit);
        if (same)
            return ks_err_set(err, KS_ERR_INVALID_ARG,
                              "%s: the output is the same file as the input %.300s; refusing to overwrite it", path,
                              hit);
    }
    return KS_OK;
}

/* the output path itself: not empty, not a folder name, and if it exists a regular file that is no input
 * (*mode: S_IFREG and its permission bits, else 0) */
static ks_status check_path(const char *path, const char *const *inputs, size_t n_inputs, mode_t *mode, ks_err *err) {
    const size_t n = strlen(path);
    if (!n) return ks_err_set(err, KS_ERR_INVALID_ARG, "the output path is empty");
    if (path[n - 1] == '/')
        return ks_err_set(err, KS_ERR_INVALID_ARG, "%s: the output path names a folder (ends in '/')", path);
    if (n + 16 >= SLOT_PATH)
        return ks_err_set(err, KS_ERR_IO, "cannot create %.200s...: %s", path, strerror(ENAMETOOLONG));
    struct stat sl, so;
    *mode = 0;
    if (lstat(path, &sl) != 0) return KS_OK; /* nothing there (or unreachable: creating the temporary file says why) */
    if (S_ISLNK(sl.st_mode)) {
        if (stat(path, &so) != 0)
            return ks_err_set(err, KS_ERR_INVALID_ARG,
                              "%s: the output is a dangling symbolic link; refusing to replace it", path);
        ks_status st = check_inputs(path, &so, inputs, n_inputs, err); /* a link to an input says so */
        return st ? st
                  : ks_err_set(err, KS_ERR_INVALID_ARG,
                               "%s: the output is a symbolic link; refusing to replace it (give the path it points to)",
                               path);
    }
    if (!S_ISREG(sl.st_mode))
        return ks_err_set(err, KS_ERR_INVALID_ARG, "%s: the output is %s, not a regular file; refusing to replace it",
                          path, kind_of(sl.st_mode));
    *mode = S_IFREG | (sl.st_mode & 0777);
    return check_inputs(path, &sl, inputs, n_inputs, err);
}

static uint64_t mix(uint64_t x) { /* splitmix64 */
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* creates the temporary file ".NAME.XXXXXX" beside path (O_EXCL) into tmp, readable by its owner only if
 * mode (an existing output's) is set; the fd, or -1 with errno set */
static int create_tmp(char *tmp, const char *path, mode_t mode) {
    static atomic_uint counter;
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    const int dir_len = slash ? (int)(slash - path) + 1 : 0;
    const size_t base_len = strlen(base) < BASE_KEEP ? strlen(base) : BASE_KEEP;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t seed = ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 40);
    for (int attempt = 0; attempt < 100; attempt++) {
        uint64_t r = mix(seed + atomic_fetch_add(&counter, 1) * 0x100000001b3ull);
        char suffix[7];
        for (int i = 0; i < 6; i++, r /= 62) suffix[i] = alnum[r % 62];
        suffix[6] = '\0';
        snprintf(tmp, SLOT_PATH, "%.*s.%.*s.%s", dir_len, path, (int)base_len, base, suffix);
        const int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode ? (mode & 0600) : 0666);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    return -1;
}

ks_status ks_outfile_open(ks_outfile *of, const char *path, const char *const *inputs, size_t n_inputs, ks_err *err) {
    memset(of, 0, sizeof *of);
    mode_t mode = 0;
    ks_status st = check_path(path, inputs, n_inputs, &mode, err);
    if (st) return st;
    if (!(of->path = strdup(path))) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    const int s = slot_claim();
    if (!s) {
        ks_outfile_discard(of);
        return ks_err_set(err, KS_ERR_LIMIT, "%s: more than %d output files open at once", path, SLOTS);
    }
    of->slot = s;
    /* no interrupt between the file's creation and its slot turning ACTIVE: a handler that ran there
     * (a program's cleanup on SIGINT / SIGTERM / SIGHUP) would not know the file and leave it behind */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT), sigaddset(&block, SIGTERM), sigaddset(&block, SIGHUP);
    const bool masked = pthread_sigmask(SIG_BLOCK, &block, &old) == 0;
    const int fd = create_tmp(slot_path[s - 1], path, mode);
    const int e = errno;
    if (fd >= 0) atomic_store(&slot_state[s - 1], SLOT_ACTIVE);
    if (masked) pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (fd < 0) {
        ks_outfile_discard(of);
        return ks_err_set(err, KS_ERR_IO, "cannot create %s: %s", path, strerror(e));
    }
    if (mode)
        (void)fchmod(fd, mode & 0777); /* a replaced output keeps its permissions (a private file stays private) */
    if (!(of->f = fdopen(fd, "wb"))) {
        close(fd);
        ks_outfile_discard(of);
        return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    }
    return KS_OK;
}

ks_status ks_outfile_check_space(const ks_outfile *of, uint64_t bytes, ks_err *err) {
    if (!of->f) return KS_OK;
    struct stat st;
    struct statvfs vfs;
    struct rlimit rl;
    const double mib = 1048576.0;
    uint64_t used = fstat(fileno(of->f), &st) == 0 && st.st_size > 0 ? (uint64_t)st.st_size : 0;
    if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && used + bytes > (uint64_t)rl.rlim_cur)
        return ks_err_set(err, KS_ERR_IO, "%s: needs %.1f MiB but the file-size limit is %.1f MiB: %s", of->path,
                          (double)(used + bytes) / mib, (double)rl.rlim_cur / mib, strerror(EFBIG));
    if (fstatvfs(fileno(of->f), &vfs) != 0) return KS_OK; /* unknown: the writes will tell */
    const uint64_t free_bytes = (uint64_t)(geteuid() == 0 ? vfs.f_bfree : vfs.f_bavail) * (uint64_t)vfs.f_frsize;
    if (bytes > free_bytes)
        return ks_err_set(err, KS_ERR_IO, "%s: needs %.1f MiB but its file system has %.1f MiB free: %s", of->path,
                          (double)bytes / mib, (double)free_bytes / mib, strerror(ENOSPC));
    return KS_OK;
}

static ks_status write_error(ks_outfile *of, int e, ks_err *err) {
    if (!of->errnum) of->errnum = e ? e : EIO;
    return ks_err_set(err, KS_ERR_IO, "%s: write failed: %s", of->path, strerror(of->errnum));
}

ks_status ks_outfile_write(ks_outfile *of, const void *p, size_t n, ks_err *err) {
    if (!of->f || of->errnum) return write_error(of, EBADF, err);
    errno = 0;
    if (n && fwrite(p, 1, n, of->f) != n) return write_error(of, errno, err);
    return KS_OK;
}

ks_status ks_outfile_close(ks_outfile *of, ks_err *err) {
    if (!of->f) return of->errnum ? write_error(of, of->errnum, err) : KS_OK;
    int e = of->errnum;
    errno = 0;
    if (!e && (fflush(of->f) != 0 || fsync(fileno(of->f)) != 0)) e = errno ? errno : EIO;
    errno = 0;
    if (fclose(of->f) != 0 && !e) e = errno ? errno : EIO;
    of->f = NULL;
    return e ? write_error(of, e, err) : KS_OK;
}

/* best effort: the rename reaches the disk (a failure here loses nothing that is not already written) */
static void sync_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char dir[SLOT_PATH];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + (slash == path) : 1, slash ? path : ".");
    const int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    (void)fsync(fd);
    close(fd);
}

ks_status ks_outfile_commit(ks_outfile *of, ks_err *err) {
    ks_status st = ks_outfile_close(of, err);
    if (!st && !of->slot) st = ks_err_set(err, KS_ERR_INVALID_ARG, "%s: no temporary file to commit", of->path);
    if (!st && rename(slot_path[of->slot - 1], of->path) != 0)
        st = ks_err_set(err, KS_ERR_IO, "cannot rename %s to %s: %s", slot_path[of->slot - 1], of->path,
                        strerror(errno));
    if (!st) {
        atomic_store(&slot_state[of->slot - 1], SLOT_FREE); /* renamed: nothing left to remove */
        of->slot = 0;
        sync_dir(of->path);
    }
    ks_outfile_discard(of);
    return st;
}

void ks_outfile_discard(ks_outfile *of) {
    if (!of) return;
    if (of->f) fclose(of->f);
    if (of->slot) {
        if (atomic_load(&slot_state[of->slot - 1]) == SLOT_ACTIVE) unlink(slot_path[of->slot - 1]);
        atomic_store(&slot_state[of->slot - 1], SLOT_FREE);
    }
    free(of->path);
    memset(of, 0, sizeof *of);
}
