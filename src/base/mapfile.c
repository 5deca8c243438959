/* mapfile.c - mmap of model files (weights are used in place, never copied). */
/* _GNU_SOURCE (MAP_ANONYMOUS, MADV_HUGEPAGE) comes from the build */
#include "base/mapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

ks_status ks_mapfile_open(ks_mapfile *mf, const char *path, ks_err *err) {
    memset(mf, 0, sizeof *mf);
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* a FIFO must not block the open */
    if (fd < 0)
        return ks_err_set(err, KS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ks_err_set(err, KS_ERR_IO, "%s: %s", path,
                          S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
    }
    if (st.st_size == 0) {
        close(fd);
        return KS_OK;
    }
    /* mapped at a 2 MiB boundary and marked for huge pages: where the page cache
     * holds the file in large folios, the kernel can then map it with 2 MiB
     * entries, and generation (which streams the weights) misses the TLB less */
    const size_t huge = (size_t)2 << 20, len = (size_t)st.st_size;
    void *p = MAP_FAILED;
    void *res = len <= SIZE_MAX - huge ? mmap(NULL, len + huge, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) : MAP_FAILED;
    if (res != MAP_FAILED) {
        uint8_t *al = (uint8_t *)(((uintptr_t)res + huge - 1) & ~(uintptr_t)(huge - 1));
        p = mmap(al, len, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
        if (p == MAP_FAILED) {
            munmap(res, len + huge);
        } else { /* release the reservation around the mapping (which ends at a page boundary: munmap
                    at al + len, inside the last page, would fail and leak the whole tail) */
            const size_t pg = (size_t)sysconf(_SC_PAGESIZE), mlen = (len + pg - 1) / pg * pg;
            if (al > (uint8_t *)res) munmap(res, (size_t)(al - (uint8_t *)res));
            const size_t tail = huge - (size_t)(al - (uint8_t *)res); /* the reservation is mlen + huge */
            if (tail) munmap(al + mlen, tail);
#ifdef MADV_HUGEPAGE
            madvise(p, len, MADV_HUGEPAGE);
#endif
        }
    }
    if (p == MAP_FAILED) p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return ks_err_set(err, KS_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
    mf->data = p;
    mf->size = (size_t)st.st_size;
    mf->mapped = 1;
    return KS_OK;
}

void ks_mapfile_close(ks_mapfile *mf) {
    if (!mf) return;
    if (mf->data) {
        if (mf->mapped) munmap((void *)mf->data, mf->size);
        else free((void *)mf->data);
    }
    memset(mf, 0, sizeof *mf);
}

static uint64_t meminfo(const char *key) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    unsigned long long kb = 0;
    const size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && line[kl] == ':' && sscanf(line + kl + 1, "%llu", &kb) == 1) break;
    fclose(f);
    return (uint64_t)kb * 1024;
}

uint64_t ks_mem_available(void) { return meminfo("MemAvailable"); }
uint64_t ks_mem_total(void) { return meminfo("MemTotal"); }
