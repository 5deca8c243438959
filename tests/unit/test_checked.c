/* test_checked.c - the checked size arithmetic and growable array (base/checked.h) and the
 * size-capped readers (base/input.h): overflow is reported, never wrapped; readers stop at
 * their cap on endless input and name it; tokens of any length stream whole. */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "base/checked.h"
#include "base/input.h"
#include "formats/gguf.h"
#include "ks_test.h"

static void test_arith(void) {
    size_t r = 0;
    CHECK(ks_mul_size(3, 5, &r) && r == 15, "3 * 5");
    CHECK(!ks_mul_size((size_t)1 << 62, 4, &r), "2^62 * 4 overflows");         /* the -n * 4 of the report */
    CHECK(!ks_mul_size(SIZE_MAX / 2 + 1, 2, &r), "SIZE_MAX / 2 + 1 times 2");
    CHECK(ks_add_size(SIZE_MAX - 1, 1, &r) && r == SIZE_MAX, "SIZE_MAX - 1 + 1");
    CHECK(!ks_add_size(SIZE_MAX, 1, &r), "SIZE_MAX + 1 overflows");
    int64_t q = 0;
    CHECK(!ks_mul_i64(INT64_MAX, 2, &q) && !ks_add_i64(INT64_MAX, 1, &q), "int64 overflow");
    CHECK(ks_mul_i64(-4, 5, &q) && q == -20, "-4 * 5");
}

static void test_reserve(void) {
    int32_t *v = NULL;
    size_t n = 0, cap = 0;
    for (int32_t i = 0; i < 100000; i++) {
        if (!KS_RESERVE(v, cap, n, 1)) break;
        v[n++] = i;
    }
    bool same = n == 100000 && cap >= n;
    for (size_t i = 0; same && i < n; i++) same = v[i] == (int32_t)i;
    CHECK(same, "100000 pushes kept in order (n %zu cap %zu)", n, cap);
    int32_t *before = v;
    size_t cap_before = cap;
    CHECK(!KS_RESERVE(v, cap, SIZE_MAX - 1, 2), "len + extra overflowing size_t is refused");
    CHECK(!KS_RESERVE(v, cap, SIZE_MAX / 8, 1), "a byte size overflowing size_t is refused");
    CHECK(v == before && cap == cap_before, "a refusal leaves the array unchanged");
    free(v);
}

static void test_file_reader(void) {
    uint8_t *d = (uint8_t *)"x";
    size_t n = 1;
    ks_err err = {0};
    ks_status s = ks_file_read_max("/dev/zero", 4096, &d, &n, &err);
    CHECK(s == KS_ERR_LIMIT && !d && n == 0, "/dev/zero with a 4 KiB cap: %d", (int)s);
    CHECK(strstr(err.msg, "/dev/zero: larger than the limit of 4 KiB for a text file") != NULL, "%s", err.msg);
    s = ks_file_read_max("/", 0, &d, &n, &err);
    CHECK(s == KS_ERR_IO && strstr(err.msg, "/: is a directory"), "folder: %s", err.msg);
    char path[] = "/tmp/ks_test_checked_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "temporary file");
    if (fd < 0) return;
    CHECK(write(fd, "hello", 5) == 5, "write");
    close(fd);
    s = ks_file_read_max(path, 5, &d, &n, &err);
    CHECK(s == KS_OK && n == 5 && !memcmp(d, "hello", 6), "a file of exactly the cap is read whole, NUL after");
    free(d);
    s = ks_file_read_max(path, 4, &d, &n, &err);
    CHECK(s == KS_ERR_LIMIT && strstr(err.msg, "limit of 4 bytes"), "one byte over the cap: %s", err.msg);
    unlink(path);
}

static void test_line_reader(void) {
    char text[] = "one\r\n\ntwo-long-line\nlast";
    FILE *f = fmemopen(text, strlen(text), "r");
    char *line = NULL;
    size_t len = 0;
    ks_err err = {0};
    CHECK(ks_line_read(f, "t", 8, &line, &len, &err) == KS_OK && line && !strcmp(line, "one") && len == 3, "CRLF");
    free(line);
    CHECK(ks_line_read(f, "t", 8, &line, &len, &err) == KS_OK && line && !strcmp(line, "") && len == 0, "empty");
    free(line);
    CHECK(ks_line_read(f, "t", 8, &line, &len, &err) == KS_ERR_LIMIT && !line, "a line over 8 bytes");
    CHECK(strstr(err.msg, "t: a line longer than the limit of 8 bytes") != NULL, "%s", err.msg);
    fclose(f);
    f = fmemopen(text + 20, 4, "r"); /* "last", no newline */
    CHECK(ks_line_read(f, "t", 0, &line, &len, &err) == KS_OK && line && !strcmp(line, "last"), "last line");
    free(line);
    CHECK(ks_line_read(f, "t", 0, &line, &len, &err) == KS_OK && !line, "end of input");
    fclose(f);
    char buf[32];
    ks_size_str((size_t)256 << 20, buf, sizeof buf);
    CHECK(!strcmp(buf, "256 MiB"), "%s", buf);
}

/* The growth sites moved to KS_RESERVE: a length whose sum with the buffer's wraps is refused.
 * The GGUF writer's blob used to test n + len > cap, which wrapped, and then copied SIZE_MAX - 8
 * bytes (a crash). */
static void test_growth_sites(void) {
    gguf_writer *w = gguf_writer_new();
    static const uint8_t some[16];
    CHECK(w && gguf_writer_set_arr(w, "k", GGUF_TYPE_UINT8, some, 16) == KS_OK, "a small array is written");
    CHECK(w && gguf_writer_set_arr(w, "big", GGUF_TYPE_UINT8, some, SIZE_MAX - 8) != KS_OK,
          "an array of SIZE_MAX - 8 bytes is refused");
    CHECK(w && gguf_writer_set_arr(w, "big2", GGUF_TYPE_UINT32, some, SIZE_MAX / 4) != KS_OK,
          "an array of SIZE_MAX / 4 u32 is refused");
    gguf_writer_free(w);
}

int main(void) {
    test_arith();
    test_growth_sites();
    test_reserve();
    test_file_reader();
    test_line_reader();
    TEST_DONE();
}
