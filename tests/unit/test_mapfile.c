/* test_mapfile.c - ks_mapfile_open / close give back all the address space they take. The
 * mapping sits in a 2 MiB-aligned reservation whose tail was released from the file's end,
 * inside its last page, where munmap fails: every open of a file whose size is not a page
 * multiple leaked 2 MiB of address space, and a long-running process (the fuzzer: 65,530
 * mappings) ran out of mappings. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/mapfile.h"
#include "ks_test.h"

static long vm_kib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0;
    if (!f || fscanf(f, "%ld", &pages) != 1) pages = -1;
    if (f) fclose(f);
    return pages < 0 ? -1 : pages * (sysconf(_SC_PAGESIZE) / 1024);
}

int main(void) {
    char path[] = "/tmp/ks_test_mapfile_XXXXXX";
    const int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    static char buf[5000];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (char)i;
    CHECK(write(fd, buf, sizeof buf) == (ssize_t)sizeof buf, "write");
    close(fd);
    const long before = vm_kib();
    int bad = 0;
    for (int i = 0; i < 200; i++) {
        ks_mapfile m;
        ks_err err;
        if (ks_mapfile_open(&m, path, &err) != KS_OK || m.size != sizeof buf || ((const char *)m.data)[4999] != buf[4999])
            bad++;
        ks_mapfile_close(&m);
    }
    const long grown = vm_kib() - before;
    fprintf(stderr, "200 opens of a 5000-byte file: address space grew by %ld KiB\n", grown);
    CHECK(bad == 0, "%d opens failed or read wrong bytes", bad);
    CHECK(before > 0 && grown < 16 * 1024, "200 opens and closes kept %ld KiB of address space (leak: 2 MiB each)",
          grown);
    unlink(path);
    TEST_DONE();
}
