/* cpu.c - CPU feature detection via the compiler's cpu model, plus cpuid for the
 * bits some compilers' __builtin_cpu_supports lacks (clang 14: no "f16c"). */
#include "base/cpu.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>

static bool has_f16c(void) {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)) && __builtin_cpu_supports("avx");
}

/* CPUID.(EAX=7,ECX=1):EAX bit 5; the OS must also save the 512-bit state (avx512f) */
static bool has_avx512bf16(void) {
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 5)) && __builtin_cpu_supports("avx512f");
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
#else
bool ks_cpu_has(ks_cpu_feature f) {
    (void)f;
    return false;
}
#endif
