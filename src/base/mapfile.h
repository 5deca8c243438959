/* mapfile.h - read-only memory mapping of a whole file.
 * The ks_mapfile owns the mapping; pointers into data stay valid until
 * ks_mapfile_close. An empty file maps to data == NULL, size == 0. */
#ifndef KS_MAPFILE_H
#define KS_MAPFILE_H
#include "base/input.h" /* ks_file_read_all, formerly declared here */
#include "kestrel.h"

typedef struct ks_mapfile {
    const uint8_t *data;
    size_t size;
    int mapped; /* 1: munmap on close; 0: data is malloc'ed (fallback) */
} ks_mapfile;

/* Maps path read-only. On error returns KS_ERR_IO and leaves *mf zeroed. */
ks_status ks_mapfile_open(ks_mapfile *mf, const char *path, ks_err *err);
void ks_mapfile_close(ks_mapfile *mf);

/* Bytes of memory the OS reports as available (MemAvailable) and in total
 * (MemTotal), from /proc/meminfo; 0 when unknown (the caller then skips checks). */
uint64_t ks_mem_available(void);
uint64_t ks_mem_total(void);
#endif
