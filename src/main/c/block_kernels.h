/*
 * The body of the k-quant dot products, included once per instruction set by block_kernels.c with SUFFIX (the
 * functions' name suffix), TARGET (gcc's target attribute), DPBUSD(acc, u8, s8) (acc + the sums of each 4
 * adjacent unsigned-by-signed byte products, as int32 lanes) and DPWSSD(acc, a16, b16) (acc + the sums of each 2
 * adjacent 16-bit products) defined. Every variant does the same integer
 * arithmetic and the same float operations in the same order, so all give the same bits.
 */

#define KERNEL(name) KERNEL_(name, SUFFIX)
/* Activation rows multiplied per pass over a weight row in prefill; loops over them are unrolled into registers. */
#define ROWS 4
/* Activation rows kept in cache while a task's weight rows pass over them (prefill). */
#define CHUNK 16
#define UNROLL _Pragma("GCC unroll 4")
#define KERNEL_(name, suffix) KERNEL__(name, suffix)
#define KERNEL__(name, suffix) name##_##suffix

/* A little-endian f16 / uint32 at p (unaligned). */
static inline __attribute__((target(TARGET))) float KERNEL(f16)(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

static inline uint32_t KERNEL(u32)(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The 8 lanes summed in a fixed order: ((v0 + v4) + (v2 + v6)) + ((v1 + v5) + (v3 + v7)). */
static inline __attribute__((target(TARGET))) float KERNEL(lane_sum)(__m256 v) {
    __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    a = _mm_add_ps(a, _mm_movehl_ps(a, a));
    a = _mm_add_ss(a, _mm_movehdup_ps(a));
    return _mm_cvtss_f32(a);
}

/*
 * Q4_K or Q5_K (five = 1) rows [0, rows) of w against m activation rows: out[r * out_stride + j] = row j · x_r.
 * A Q4_K super-block is 144 bytes: f16 d, f16 dmin, 12 bytes of 6-bit scales and minimums, 128 bytes of nibbles
 * (each 32 bytes: the low nibbles are sub-block 2i, the high ones 2i + 1); Q5_K (176 bytes) puts 32 bytes of
 * fifth bits before the nibbles (byte l: bit 2i for value l of sub-block 2i, bit 2i + 1 for sub-block 2i + 1).
 * Per super-block and activation block, the integer sum Σ_j sc_j Σ_i q_i xq_i is exact in int32 (|q·xq| ≤ 31·127,
 * 4 per lane, 8 sub-blocks, sc ≤ 63: < 2^23); it is converted once and scaled by d·xd. Pairs of products are summed
 * to 16 bits, and pairs of those multiplied by the scale and added to the lane in one instruction (dpwssd), which
 * spares a 32-bit multiply and an add per 32 values against summing 4 products first. The minimums' term
 * dmin·m_j·Σx uses the sums of the rounded x (sums32, one per 32 values), so the result is exactly the
 * dequantised row times the rounded x: with the unrounded sums the rounding error grew with the minimums
 * (dmin·m), and was 3x llama.cpp's on a q4_k_m model. The scales and minimums stay in vectors (one lane per
 * sub-block): unpacking them one by one in scalar code cost 1.4x (docs/BENCHMARKS.md, GGUF decode round 7).
 */
static inline __attribute__((always_inline, target(TARGET))) void KERNEL(k_quant_4_or_5_row)(const uint8_t *b,
        int32_t cols, const int8_t *xq, const float *xd, const int32_t *sums32, int32_t r0, const int nr,
        float *out, int32_t out_stride, int five) {
    const __m256i low4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    const int nb = cols / 256, block = five ? 176 : 144, nibbles = five ? 48 : 16;
    __m256 acc[ROWS], mins[ROWS];
    __m256i isum[ROWS];
    float xscale[ROWS];
    UNROLL for (int t = 0; t < nr; t++) {
        acc[t] = _mm256_setzero_ps();
        mins[t] = _mm256_setzero_ps();
    }
    for (int k = 0; k < nb; k++, b += block) {
        uint32_t lo6 = KERNEL(u32)(b + 4), hi6 = KERNEL(u32)(b + 8), top = KERNEL(u32)(b + 12);
        /* four 6-bit values per word, one per byte, as ggml's get_scale_min_k4 unpacks them */
        uint64_t sc = (uint64_t) ((top & 0x0F0F0F0F) | ((lo6 >> 6 & 0x03030303) << 4)) << 32 | (lo6 & 0x3F3F3F3F);
        uint64_t mn = (uint64_t) ((top >> 4 & 0x0F0F0F0F) | ((hi6 >> 6 & 0x03030303) << 4)) << 32 | (hi6 & 0x3F3F3F3F);
        /* each sub-block's scale in both 16-bit halves of its int32 lane: a 16-bit multiplier for dpwssd */
        __m256i sc8 = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((int64_t) sc));
        sc8 = _mm256_or_si256(sc8, _mm256_slli_epi32(sc8, 16));
        __m256i mn8 = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((int64_t) mn));
        float d = KERNEL(f16)(b), dmin = KERNEL(f16)(b + 2);
        UNROLL for (int t = 0; t < nr; t++) {
            int64_t r = r0 + t;
            xscale[t] = xd[r * nb + k];
            /* |m·Σxq| ≤ 63·32·127 < 2^24: exact in float */
            const __m256i *s = (const __m256i *) (sums32 + r * (cols / 32) + 8 * k);
            mins[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_mullo_epi32(mn8, _mm256_loadu_si256(s))),
                                      _mm256_set1_ps(dmin * xscale[t]), mins[t]);
            isum[t] = _mm256_setzero_si256();
        }
        __m256i fifth = five ? _mm256_loadu_si256((const __m256i *) (b + 16)) : _mm256_setzero_si256();
        for (int i = 0; i < 4; i++) {
            __m256i v = _mm256_loadu_si256((const __m256i *) (b + nibbles + 32 * i));
            __m256i lo = _mm256_and_si256(v, low4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
            if (five) { /* the bit moved to bit 4 of each byte (a 16-bit shift of a 0/1 byte stays inside it) */
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(fifth, 2 * i), one), 4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(fifth, 2 * i + 1), one), 4));
            }
            __m256i scl = _mm256_permutevar8x32_epi32(sc8, _mm256_set1_epi32(2 * i));
            __m256i sch = _mm256_permutevar8x32_epi32(sc8, _mm256_set1_epi32(2 * i + 1));
            UNROLL for (int t = 0; t < nr; t++) {
                /* pairs of byte products (≤ 2·31·127, no saturation), then pairs of those times the scale, added */
                const int8_t *x = xq + (int64_t) (r0 + t) * cols + 256 * k + 64 * i;
                __m256i pl = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *) x));
                __m256i ph = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *) (x + 32)));
                isum[t] = DPWSSD(isum[t], pl, scl);
                isum[t] = DPWSSD(isum[t], ph, sch);
            }
        }
        UNROLL for (int t = 0; t < nr; t++) {
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_set1_ps(d * xscale[t]), acc[t]);
        }
    }
    UNROLL for (int t = 0; t < nr; t++) {
        out[(int64_t) (r0 + t) * out_stride] = KERNEL(lane_sum)(acc[t]) - KERNEL(lane_sum)(mins[t]);
    }
}

/*
 * Prefill: activation rows ROWS at a time, so each weight row's unpacking serves them all, and CHUNK at a time, so
 * they stay in cache while the task's weight rows pass (each output gets the same operations in any case).
 */
static inline __attribute__((always_inline, target(TARGET))) void KERNEL(k_quant_4_or_5)(const uint8_t *w,
        int64_t row_bytes, int32_t rows, int32_t cols, const int8_t *xq, const float *xd, const int32_t *sums32,
        int32_t m, float *out, int32_t out_stride, int five) {
    for (int32_t r0 = 0; r0 < m; r0 += CHUNK) {
        int32_t r1 = r0 + CHUNK < m ? r0 + CHUNK : m;
        for (int32_t j = 0; j < rows; j++) {
            int32_t r = r0;
            for (; r + ROWS <= r1; r += ROWS) {
                KERNEL(k_quant_4_or_5_row)(w + j * row_bytes, cols, xq, xd, sums32, r, ROWS, out + j, out_stride, five);
            }
            for (; r < r1; r++) {
                KERNEL(k_quant_4_or_5_row)(w + j * row_bytes, cols, xq, xd, sums32, r, 1, out + j, out_stride, five);
            }
        }
    }
}

__attribute__((target(TARGET))) void KERNEL(crucible_q4_k)(const uint8_t *w, int64_t row_bytes, int32_t rows,
        int32_t cols, const int8_t *xq, const float *xd, const int32_t *sums32, int32_t m, float *out,
        int32_t out_stride) {
    KERNEL(k_quant_4_or_5)(w, row_bytes, rows, cols, xq, xd, sums32, m, out, out_stride, 0);
}

__attribute__((target(TARGET))) void KERNEL(crucible_q5_k)(const uint8_t *w, int64_t row_bytes, int32_t rows,
        int32_t cols, const int8_t *xq, const float *xd, const int32_t *sums32, int32_t m, float *out,
        int32_t out_stride) {
    KERNEL(k_quant_4_or_5)(w, row_bytes, rows, cols, xq, xd, sums32, m, out, out_stride, 1);
}

/*
 * Q6_K rows, as the Q4_K kernel does. A super-block is 210 bytes: 128 bytes of low nibbles, 64 of high bit pairs,
 * 16 signed scales (one per 16 values), f16 d. Each 128 values: bytes l and l + 32 of the nibbles give values l,
 * l + 32 (low nibbles) and l + 64, l + 96 (high), byte l of the bit pairs their bits 4-5. The values are q − 32
 * with q in [0, 64): pairs of products q·xq are summed to 16 bits (≤ 2·63·127, no saturation) and multiplied by
 * their scale and added in pairs by dpwssd; the −32 is applied once per super-block, as −32·sc_g times the sum of
 * group g's rounded activations (sums16), by one more dpwssd. The int32 lanes are exact; converting one to float
 * rounds only beyond 2^24, as Java's (float) does.
 */
static inline __attribute__((always_inline, target(TARGET))) void KERNEL(q6_k_row)(const uint8_t *b, int32_t cols,
        const int8_t *xq, const float *xd, const int16_t *sums16, int32_t r0, const int nr, float *out,
        int32_t out_stride) {
    const __m256i low4 = _mm256_set1_epi8(0x0F), bits45 = _mm256_set1_epi8(0x30), low16 = _mm256_set1_epi32(0xFFFF);
    const __m256i g01 = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1), g23 = _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3);
    const __m256i g45 = _mm256_setr_epi32(4, 4, 4, 4, 5, 5, 5, 5), g67 = _mm256_setr_epi32(6, 6, 6, 6, 7, 7, 7, 7);
    const int nb = cols / 256;
    __m256 acc[ROWS];
    __m256i isum[ROWS];
    UNROLL for (int t = 0; t < nr; t++) {
        acc[t] = _mm256_setzero_ps();
    }
    for (int k = 0; k < nb; k++, b += 210) {
        /* the 16 scales times −32, as 16-bit lanes, against the 16 groups' activation sums */
        __m256i offsets = _mm256_sub_epi16(_mm256_setzero_si256(),
                _mm256_slli_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *) (b + 192))), 5));
        UNROLL for (int t = 0; t < nr; t++) {
            const __m256i *g = (const __m256i *) (sums16 + (int64_t) (r0 + t) * (cols / 16) + 16 * k);
            isum[t] = DPWSSD(_mm256_setzero_si256(), offsets, _mm256_loadu_si256(g));
        }
        for (int n = 0; n < 2; n++) {
            const uint8_t *ql = b + 64 * n, *qh = b + 128 + 32 * n;
            /* each 32-value chunk's two scales, one per 4 lanes, in both 16-bit halves of each lane */
            __m256i sc = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *) (b + 192 + 8 * n)));
            sc = _mm256_or_si256(_mm256_and_si256(sc, low16), _mm256_slli_epi32(sc, 16));
            __m256i s01 = _mm256_permutevar8x32_epi32(sc, g01), s23 = _mm256_permutevar8x32_epi32(sc, g23);
            __m256i s45 = _mm256_permutevar8x32_epi32(sc, g45), s67 = _mm256_permutevar8x32_epi32(sc, g67);
            __m256i a = _mm256_loadu_si256((const __m256i *) ql);
            __m256i c = _mm256_loadu_si256((const __m256i *) (ql + 32));
            __m256i h = _mm256_loadu_si256((const __m256i *) qh);
            __m256i q1 = _mm256_or_si256(_mm256_and_si256(a, low4), _mm256_and_si256(_mm256_slli_epi16(h, 4), bits45));
            __m256i q2 = _mm256_or_si256(_mm256_and_si256(c, low4), _mm256_and_si256(_mm256_slli_epi16(h, 2), bits45));
            __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(a, 4), low4), _mm256_and_si256(h, bits45));
            __m256i q4 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(c, 4), low4),
                                         _mm256_and_si256(_mm256_srli_epi16(h, 2), bits45));
            UNROLL for (int t = 0; t < nr; t++) {
                const int8_t *xo = xq + (int64_t) (r0 + t) * cols + 256 * k + 128 * n;
                isum[t] = DPWSSD(isum[t], _mm256_maddubs_epi16(q1, _mm256_loadu_si256((const __m256i *) xo)), s01);
                isum[t] = DPWSSD(isum[t], _mm256_maddubs_epi16(q2, _mm256_loadu_si256((const __m256i *) (xo + 32))), s23);
                isum[t] = DPWSSD(isum[t], _mm256_maddubs_epi16(q3, _mm256_loadu_si256((const __m256i *) (xo + 64))), s45);
                isum[t] = DPWSSD(isum[t], _mm256_maddubs_epi16(q4, _mm256_loadu_si256((const __m256i *) (xo + 96))), s67);
            }
        }
        float d = KERNEL(f16)(b + 208);
        UNROLL for (int t = 0; t < nr; t++) {
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_set1_ps(d * xd[(int64_t) (r0 + t) * nb + k]), acc[t]);
        }
    }
    UNROLL for (int t = 0; t < nr; t++) {
        out[(int64_t) (r0 + t) * out_stride] = KERNEL(lane_sum)(acc[t]);
    }
}

__attribute__((target(TARGET))) void KERNEL(crucible_q6_k)(const uint8_t *w, int64_t row_bytes, int32_t rows,
        int32_t cols, const int8_t *xq, const float *xd, const int16_t *sums16, int32_t m, float *out,
        int32_t out_stride) {
    for (int32_t r0 = 0; r0 < m; r0 += CHUNK) { /* as k_quant_4_or_5 */
        int32_t r1 = r0 + CHUNK < m ? r0 + CHUNK : m;
        for (int32_t j = 0; j < rows; j++) {
            int32_t r = r0;
            for (; r + ROWS <= r1; r += ROWS) {
                KERNEL(q6_k_row)(w + j * row_bytes, cols, xq, xd, sums16, r, ROWS, out + j, out_stride);
            }
            for (; r < r1; r++) {
                KERNEL(q6_k_row)(w + j * row_bytes, cols, xq, xd, sums16, r, 1, out + j, out_stride);
            }
        }
    }
}

/*
 * Q8_0 rows, as the Q4_K kernel does, against activations rounded per 32 values (one scale each, as llama.cpp
 * rounds them for q8_0 weights). A block is 34 bytes: f16 d, 32 signed bytes. The products |w|·(x with w's sign)
 * make the unsigned-by-signed instruction exact for signed weights (|w| ≤ 128, |x| ≤ 127); each block's 8 lanes
 * are converted and multiplied-added with d·xd.
 */
static inline __attribute__((always_inline, target(TARGET))) void KERNEL(q8_0_row)(const uint8_t *b, int32_t cols,
        const int8_t *xq, const float *xd, int32_t r0, const int nr, float *out, int32_t out_stride) {
    const int nb = cols / 32;
    __m256 acc[ROWS];
    UNROLL for (int t = 0; t < nr; t++) {
        acc[t] = _mm256_setzero_ps();
    }
    for (int k = 0; k < nb; k++, b += 34) {
        __m256i v = _mm256_loadu_si256((const __m256i *) (b + 2));
        __m256i magnitude = _mm256_sign_epi8(v, v);
        float d = KERNEL(f16)(b);
        UNROLL for (int t = 0; t < nr; t++) {
            int64_t r = r0 + t;
            __m256i x = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *) (xq + r * cols + 32 * k)), v);
            __m256i dot = DPBUSD(_mm256_setzero_si256(), magnitude, x);
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(d * xd[r * nb + k]), acc[t]);
        }
    }
    UNROLL for (int t = 0; t < nr; t++) {
        out[(int64_t) (r0 + t) * out_stride] = KERNEL(lane_sum)(acc[t]);
    }
}

__attribute__((target(TARGET))) void KERNEL(crucible_q8_0)(const uint8_t *w, int64_t row_bytes, int32_t rows,
        int32_t cols, const int8_t *xq, const float *xd, const int32_t *unused, int32_t m, float *out,
        int32_t out_stride) {
    (void) unused; /* the kernels share one signature */
    for (int32_t r0 = 0; r0 < m; r0 += CHUNK) { /* as k_quant_4_or_5 */
        int32_t r1 = r0 + CHUNK < m ? r0 + CHUNK : m;
        for (int32_t j = 0; j < rows; j++) {
            int32_t r = r0;
            for (; r + ROWS <= r1; r += ROWS) {
                KERNEL(q8_0_row)(w + j * row_bytes, cols, xq, xd, r, ROWS, out + j, out_stride);
            }
            for (; r < r1; r++) {
                KERNEL(q8_0_row)(w + j * row_bytes, cols, xq, xd, r, 1, out + j, out_stride);
            }
        }
    }
}

#undef ROWS
#undef CHUNK
#undef UNROLL
#undef KERNEL
#undef KERNEL_
#undef KERNEL__
