/* mapfile.c - mmap of model files (weights are used in place, never copied). */
#define _POSIX_C_SOURCE 200809L
#include "base/mapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

ks_status ks_mapfile_open(ks_mapfile *mf, const char *path, ks_err *err) {
    memset(mf, 0, sizeof *mf);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return ks_err_set(err, KS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ks_err_set(err, KS_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return KS_OK;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
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

ks_status ks_file_read_all(const char *path, uint8_t **data, size_t *size, ks_err *err) {
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return ks_err_set(err, KS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) { fclose(f); return ks_err_set(err, KS_ERR_NOMEM, "out of memory reading %s", path); }
    for (;;) {
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); fclose(f); return ks_err_set(err, KS_ERR_NOMEM, "out of memory reading %s", path); }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); return ks_err_set(err, KS_ERR_IO, "%s: read error", path); }
    *data = buf;
    *size = n;
    return KS_OK;
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
