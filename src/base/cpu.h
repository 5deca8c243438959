/* cpu.h - run-time CPU feature detection (kernels pick their ISA with it). */
#ifndef KS_CPU_H
#define KS_CPU_H
#include <stdbool.h>

typedef enum ks_cpu_feature {
    KS_CPU_AVX,
    KS_CPU_AVX2,
    KS_CPU_FMA,
    KS_CPU_F16C,
    KS_CPU_AVX512F,
    KS_CPU_AVX512BW,
    KS_CPU_AVX512VNNI,
    KS_CPU_AVX512BF16,
    KS_CPU_AMX_BF16, /* AMX tiles with BF16 products; detection also asks Linux for tile permission */
    KS_CPU_AMX_INT8, /* AMX tiles with INT8 products; same */
} ks_cpu_feature;

/* True if this CPU (and the OS, for wide registers) supports the feature.
 * Always false on non-x86 builds. */
bool ks_cpu_has(ks_cpu_feature f);
/* True on AMD processors (cpuid vendor "AuthenticAMD"): some choices between two
 * correct kernels follow measured speed, which differs between vendors. */
bool ks_cpu_is_amd(void);
#endif
