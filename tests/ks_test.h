/* ks_test.h - minimal test helpers: CHECK counts failures, tests exit non-zero on any. */
#ifndef KS_TEST_H
#define KS_TEST_H
#include <stdio.h>
#include <stdlib.h>

static int ks_test_failures = 0;
static int ks_test_checks = 0;
#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        ks_test_checks++;                                                    \
        if (!(cond)) {                                                       \
            ks_test_failures++;                                              \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                    \
            fprintf(stderr, "\n");                                           \
        }                                                                    \
    } while (0)
#define TEST_DONE()                                                                        \
    do {                                                                                   \
        fprintf(stderr, "%d checks, %d failed\n", ks_test_checks, ks_test_failures);      \
        return ks_test_failures ? 1 : 0;                                                   \
    } while (0)
static inline const char *ks_test_env(const char *name, const char *dflt) {
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}
#endif
