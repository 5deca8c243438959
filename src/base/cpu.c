/* cpu.c - CPU feature detection via the compiler's cpu model, plus cpuid for the
 * bits some compilers' __builtin_cpu_supports lacks (clang 14: no "f16c"). */
#include "base/cpu.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <stdlib.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

static bool has_f16c(void) {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)) && __builtin_cpu_supports("avx");
}

/* CPUID.(EAX=7,ECX=1):EAX bit 5; the OS must also save the 512-bit state (avx512f) */
static bool has_avx512bf16(void) {
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 5)) && __builtin_cpu_supports("avx512f");
}

/* AMX: CPUID.(EAX=7,ECX=0):EDX bit 24 (tiles) and bit 22 (BF16) or 25 (INT8); the OS
 * must enable the tile state (XCR0 bits 17, 18), and Linux hands tile data to a process
 * only after arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA), which covers all of
 * its threads. Without it the first tile instruction raises SIGILL. */
static bool has_amx(unsigned bit) {
    const char *off = getenv("KS_NO_AMX"); /* benchmarks and tests: the AVX-512 paths on an AMX machine */
    if (off && *off && *off != '0') return false;
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 24)) || !(d & (1u << bit))) return false;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return false; /* OSXSAVE: xgetbv is allowed */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & (3u << 17)) != (3u << 17)) return false;
#if defined(__linux__)
    enum { ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };
    return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
#else
    return false;
#endif
}

static bool detect(ks_cpu_feature f) {
    __builtin_cpu_init();
    switch (f) {
    case KS_CPU_AVX: return __builtin_cpu_supports("avx");
    case KS_CPU_AVX2: return __builtin_cpu_supports("avx2");
    case KS_CPU_FMA: return __builtin_cpu_supports("fma");
    case KS_CPU_F16C: return has_f16c();
    case KS_CPU_AVX512F: return __builtin_cpu_supports("avx512f");
    case KS_CPU_AVX512BW: return __builtin_cpu_supports("avx512bw");
    case KS_CPU_AVX512VNNI: return __builtin_cpu_supports("avx512vnni");
    case KS_CPU_AVX512BF16: return has_avx512bf16();
    case KS_CPU_AMX_BF16: return has_amx(22) && __builtin_cpu_supports("avx512f");
    case KS_CPU_AMX_INT8: return has_amx(25) && __builtin_cpu_supports("avx512f");
    }
    return false;
}

/* detected once per feature: cpuid traps to the hypervisor in a VM (about a microsecond) */
bool ks_cpu_has(ks_cpu_feature f) {
    static signed char known[32]; /* 0 unknown, 1 yes, -1 no; a benign race finds the same answer */
    if ((unsigned)f >= sizeof known) return detect(f);
    if (!known[f]) known[f] = detect(f) ? 1 : -1;
    return known[f] > 0;
}
bool ks_cpu_is_amd(void) {
    static int known; /* 0 unknown, 1 yes, -1 no */
    if (!known) {
        unsigned a, b, c, d;
        known = __get_cpuid(0, &a, &b, &c, &d) && b == 0x68747541u && d == 0x69746e65u && c == 0x444d4163u ? 1 : -1;
    }
    return known > 0;
}
#else
bool ks_cpu_has(ks_cpu_feature f) {
    (void)f;
    return false;
}
bool ks_cpu_is_amd(void) { return false; }
#endif
