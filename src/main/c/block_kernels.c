/*
 * Crucible's native dot products for GGUF inference (Q4_K, Q5_K, Q6_K, Q8_0), loaded through the Java FFM API by
 * dev.crucible.tensor.NativeBlockKernels. The Vector API has no integer dot-product instruction, and the float
 * kernels it allows are bound by their arithmetic at about a third of llama.cpp's decode speed on q4_k_m
 * (docs/BENCHMARKS.md, GGUF decode): these kernels take the activations rounded to 8 bits per block of 256
 * values, 32 for Q8_0 (the caller rounds them, see Int8Activations), and multiply bytes, 4 products per int32
 * lane per instruction.
 *
 * One body (block_kernels.h), compiled for three instruction sets; the caller picks the best the CPU has
 * (crucible_cpu_features). The integer sums are exact and the float operations are the same in each variant,
 * so all three give the same bits. Built by build.sh when a C compiler is present; without it Crucible uses its
 * Java kernels. The merge path never loads this library.
 */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* AVX-512 VNNI on 256-bit vectors (VL): one instruction. */
#define SUFFIX avx512vnni
#define TARGET "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"
#define DPBUSD(acc, u, s) _mm256_dpbusd_epi32((acc), (u), (s))
#define DPWSSD(acc, a, b) _mm256_dpwssd_epi32((acc), (a), (b))
#include "block_kernels.h"
#undef SUFFIX
#undef TARGET
#undef DPBUSD
#undef DPWSSD

/* AVX-VNNI (VEX encoding, CPUs with VNNI but without AVX-512): the same instruction. */
#define SUFFIX avxvnni
#define TARGET "avx2,fma,f16c,avxvnni"
#define DPBUSD(acc, u, s) _mm256_dpbusd_avx_epi32((acc), (u), (s))
#define DPWSSD(acc, a, b) _mm256_dpwssd_avx_epi32((acc), (a), (b))
#include "block_kernels.h"
#undef SUFFIX
#undef TARGET
#undef DPBUSD
#undef DPWSSD

/*
 * AVX2: pairs of byte products summed to int16 (no saturation: the unsigned bytes are below 64, so a pair is at
 * most 2·63·128 < 2^15), then pairs of those to int32: the same sums.
 */
#define SUFFIX avx2
#define TARGET "avx2,fma,f16c"
#define DPBUSD(acc, u, s) _mm256_add_epi32((acc), _mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1)))
#define DPWSSD(acc, a, b) _mm256_add_epi32((acc), _mm256_madd_epi16((a), (b)))
#include "block_kernels.h"
#undef SUFFIX
#undef TARGET
#undef DPBUSD
#undef DPWSSD

/* Bit 0: AVX2 + FMA + F16C, bit 1: AVX-VNNI, bit 2: AVX-512 VNNI with BW and VL (each implying bit 0). */
int32_t crucible_cpu_features(void) {
    __builtin_cpu_init();
    int32_t f = 0;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) {
        f |= 1;
        if (__builtin_cpu_supports("avxvnni")) {
            f |= 2;
        }
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
                && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni")) {
            f |= 4;
        }
    }
    return f;
}

/* Raised whenever the functions' signatures or semantics change: the Java side refuses another version. */
int32_t crucible_block_kernels_version(void) {
    return 4;
}
