package dev.crucible.gguf;

import java.util.Arrays;

/**
 * ggml's 256-value super-block formats ("k-quants"). Q4_K, Q5_K and Q6_K quantise as ggml's reference code does
 * without an importance matrix (see {@link BlockQuant}); Q2_K and Q3_K are read only, for GGUF files made
 * elsewhere.
 */
final class KQuants {
    static final int QK_K = 256;
    private static final float GROUP_MAX_EPS = 1e-15f;

    private KQuants() {
    }

    /**
     * ggml's make_qkx2_quants: levels 0..nmax for x = scale * L - min, searching nstep + 1 candidate scales and
     * keeping the one of least weighted squared error. Returns the scale; {@code theMin[0]} receives -min.
     */
    static float makeQkx2Quants(int n, int nmax, float[] x, int xo, float[] weights, byte[] levels, int lo,
                                float[] theMin, byte[] aux, float rmin, float rdelta, int nstep) {
        float min = x[xo];
        float max = x[xo];
        float sumW = weights[0];
        float sumX = sumW * x[xo];
        for (int i = 1; i < n; i++) {
            float xi = x[xo + i];
            if (xi < min) {
                min = xi;
            }
            if (xi > max) {
                max = xi;
            }
            float w = weights[i];
            sumW += w;
            sumX += w * xi;
        }
        if (min > 0) {
            min = 0;
        }
        if (max == min) {
            Arrays.fill(levels, lo, lo + n, (byte) 0);
            theMin[0] = -min;
            return 0f;
        }
        float[] shifted = shifted(x, xo, n, min); // x - min, as ggml recomputes it, until min changes
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++) {
            int l = BlockQuant.nearestInt(iscale * shifted[i]);
            l = Math.max(0, Math.min(nmax, l));
            levels[lo + i] = (byte) l;
            float diff = scale * l + min - x[xo + i];
            diff = diff * diff;
            bestError += weights[i] * diff;
        }
        if (nstep < 1) {
            theMin[0] = -min;
            return scale;
        }
        for (int is = 0; is <= nstep; is++) {
            iscale = (rmin + rdelta * is + nmax) / (max - min);
            float sumL = 0;
            float sumL2 = 0;
            float sumXl = 0;
            for (int i = 0; i < n; i++) {
                int l = BlockQuant.nearestInt(iscale * shifted[i]);
                l = Math.max(0, Math.min(nmax, l));
                aux[i] = (byte) l;
                float w = weights[i];
                float wl = w * l;
                sumL += wl;
                sumL2 += wl * l;
                sumXl += wl * x[xo + i];
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det > 0) {
                float thisScale = (sumW * sumXl - sumX * sumL) / det;
                float thisMin = (sumL2 * sumX - sumL * sumXl) / det;
                if (thisMin > 0) {
                    thisMin = 0;
                    thisScale = sumXl / sumL2;
                }
                float curError = 0;
                for (int i = 0; i < n; i++) {
                    float diff = thisScale * aux[i] + thisMin - x[xo + i];
                    diff = diff * diff;
                    curError += weights[i] * diff;
                }
                if (curError < bestError) {
                    System.arraycopy(aux, 0, levels, lo, n);
                    bestError = curError;
                    scale = thisScale;
                    min = thisMin; // later candidates use the new min, as in ggml
                    shifted = shifted(x, xo, n, min);
                }
            }
        }
        theMin[0] = -min;
        return scale;
    }

    private static float[] shifted(float[] x, int xo, int n, float min) {
        float[] s = new float[n];
        for (int i = 0; i < n; i++) {
            s[i] = x[xo + i] - min;
        }
        return s;
    }

    /**
     * ggml's make_qx_quants with rmse_type 1 and no importance weights: signed levels -nmax..nmax-1 stored as
     * L + nmax, the scale refined over 18 nearby candidates by weighted least squares (weights x²).
     */
    static float makeQxQuants(int n, int nmax, float[] x, int xo, byte[] levels, int lo) {
        float max = 0;
        float amax = 0;
        for (int i = 0; i < n; i++) {
            float ax = Math.abs(x[xo + i]);
            if (ax > amax) {
                amax = ax;
                max = x[xo + i];
            }
        }
        if (amax < GROUP_MAX_EPS) {
            Arrays.fill(levels, lo, lo + n, (byte) 0);
            return 0f;
        }
        float iscale = -nmax / max;
        float sumlx = 0;
        float suml2 = 0;
        for (int i = 0; i < n; i++) {
            float xi = x[xo + i];
            int l = BlockQuant.nearestInt(iscale * xi);
            l = Math.max(-nmax, Math.min(nmax - 1, l));
            levels[lo + i] = (byte) (l + nmax);
            float w = xi * xi;
            sumlx += w * xi * l;
            suml2 += w * l * l;
        }
        float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
        float best = scale * sumlx;
        for (int is = -9; is <= 9; is++) {
            if (is == 0) {
                continue;
            }
            iscale = -(nmax + 0.1f * is) / max;
            sumlx = 0;
            suml2 = 0;
            for (int i = 0; i < n; i++) {
                float xi = x[xo + i];
                int l = BlockQuant.nearestInt(iscale * xi);
                l = Math.max(-nmax, Math.min(nmax - 1, l));
                float w = xi * xi;
                sumlx += w * xi * l;
                suml2 += w * l * l;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2) {
                for (int i = 0; i < n; i++) {
                    int l = BlockQuant.nearestInt(iscale * x[xo + i]);
                    levels[lo + i] = (byte) (nmax + Math.max(-nmax, Math.min(nmax - 1, l)));
                }
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }

    /** ggml's get_scale_min_k4: the 6-bit scale and min of sub-block j from the 12 packed bytes at {@code s}. */
    static int scaleK4(byte[] b, int s, int j) {
        return j < 4 ? b[s + j] & 63 : (b[s + j + 4] & 0xF) | (((b[s + j - 4] & 0xFF) >> 6) << 4);
    }

    static int minK4(byte[] b, int s, int j) {
        return j < 4 ? b[s + j + 4] & 63 : ((b[s + j + 4] & 0xFF) >> 4) | (((b[s + j] & 0xFF) >> 6) << 4);
    }

    /** Packs eight 6-bit scales and mins into 12 bytes as Q4_K and Q5_K store them. */
    static void packScales(byte[] dst, int s, int[] ls, int[] lm) {
        Arrays.fill(dst, s, s + 12, (byte) 0);
        for (int j = 0; j < 8; j++) {
            if (j < 4) {
                dst[s + j] = (byte) ls[j];
                dst[s + j + 4] = (byte) lm[j];
            } else {
                dst[s + j + 4] = (byte) ((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
                dst[s + j - 4] |= (byte) ((ls[j] >> 4) << 6);
                dst[s + j] |= (byte) ((lm[j] >> 4) << 6);
            }
        }
    }

    /**
     * The first half of Q4_K and Q5_K: per 32-value sub-block a scale and min by make_qkx2_quants, quantised to
     * 6 bits against the super-block's largest; writes d, dmin and the packed scales at {@code o} and returns the
     * final levels (recomputed from the rounded scales) in {@code levels}.
     */
    private static void scalesAndLevels(float[] x, int xo, int nmax, float rmin, int nstep, byte[] dst, int o,
                                        byte[] levels) {
        float[] weights = new float[32];
        float[] scales = new float[8];
        float[] mins = new float[8];
        float[] theMin = new float[1];
        byte[] aux = new byte[32];
        float maxScale = 0;
        float maxMin = 0;
        for (int j = 0; j < 8; j++) {
            int sub = xo + 32 * j;
            float sumX2 = 0;
            for (int l = 0; l < 32; l++) {
                sumX2 += x[sub + l] * x[sub + l];
            }
            float avX = (float) Math.sqrt(sumX2 / 32);
            for (int l = 0; l < 32; l++) {
                weights[l] = avX + Math.abs(x[sub + l]);
            }
            scales[j] = makeQkx2Quants(32, nmax, x, sub, weights, levels, 32 * j, theMin, aux, rmin, 0.1f, nstep);
            mins[j] = theMin[0];
            if (scales[j] > maxScale) {
                maxScale = scales[j];
            }
            if (mins[j] > maxMin) {
                maxMin = mins[j];
            }
        }
        float invScale = maxScale > 0 ? 63.f / maxScale : 0.f;
        float invMin = maxMin > 0 ? 63.f / maxMin : 0.f;
        int[] ls = new int[8];
        int[] lm = new int[8];
        for (int j = 0; j < 8; j++) {
            ls[j] = Math.min(63, BlockQuant.nearestInt(invScale * scales[j]) & 0xFF); // stored in a uint8_t first
            lm[j] = Math.min(63, BlockQuant.nearestInt(invMin * mins[j]) & 0xFF);
        }
        packScales(dst, o + 4, ls, lm);
        BlockQuant.putHalf(dst, o, maxScale / 63.f);
        BlockQuant.putHalf(dst, o + 2, maxMin / 63.f);
        float dAll = BlockQuant.half(dst, o);
        float dminAll = BlockQuant.half(dst, o + 2);
        for (int j = 0; j < 8; j++) {
            float d = dAll * ls[j];
            if (d == 0) {
                continue; // ggml keeps make_qkx2_quants' levels for a zero scale
            }
            float dm = dminAll * lm[j];
            for (int ii = 0; ii < 32; ii++) {
                int l = BlockQuant.nearestInt((x[xo + 32 * j + ii] + dm) / d);
                levels[32 * j + ii] = (byte) Math.max(0, Math.min(nmax, l));
            }
        }
    }

    /** d, dmin (f16), 12 bytes of 6-bit scales and mins, 128 bytes of nibbles. */
    static final class Q4_K extends BlockQuant {
        @Override
        public GgmlType type() {
            return GgmlType.Q4_K;
        }

        @Override
        public void quantize(float[] x, int off, int n, byte[] dst, int dstOff) {
            byte[] levels = new byte[QK_K];
            for (int b = 0; b < n / QK_K; b++) {
                int xo = off + QK_K * b;
                int o = dstOff + 144 * b;
                scalesAndLevels(x, xo, 15, -1f, 20, dst, o, levels);
                int q = o + 16;
                for (int j = 0; j < QK_K; j += 64) {
                    for (int l = 0; l < 32; l++) {
                        dst[q + l] = (byte) (levels[j + l] | (levels[j + l + 32] << 4));
                    }
                    q += 32;
                }
            }
        }

        @Override
        public void dequantize(byte[] src, int srcOff, float[] y, int off, int n) {
            for (int b = 0; b < n / QK_K; b++) {
                int o = srcOff + 144 * b;
                float d = half(src, o);
                float min = half(src, o + 2);
                int q = o + 16;
                int out = off + QK_K * b;
                for (int j = 0, is = 0; j < QK_K; j += 64, is += 2) {
                    float d1 = d * scaleK4(src, o + 4, is);
                    float m1 = min * minK4(src, o + 4, is);
                    float d2 = d * scaleK4(src, o + 4, is + 1);
                    float m2 = min * minK4(src, o + 4, is + 1);
                    for (int l = 0; l < 32; l++) {
                        y[out++] = d1 * (src[q + l] & 0xF) - m1;
                    }
                    for (int l = 0; l < 32; l++) {
                        y[out++] = d2 * ((src[q + l] & 0xFF) >> 4) - m2;
                    }
                    q += 32;
                }
            }
        }
    }

    /** d, dmin (f16), 12 bytes of scales and mins, 32 bytes of fifth bits, 128 bytes of nibbles. */
    static final class Q5_K extends BlockQuant {
        @Override
        public GgmlType type() {
            return GgmlType.Q5_K;
        }

        @Override
        public void quantize(float[] x, int off, int n, byte[] dst, int dstOff) {
            byte[] levels = new byte[QK_K];
            for (int b = 0; b < n / QK_K; b++) {
                int xo = off + QK_K * b;
                int o = dstOff + 176 * b;
                scalesAndLevels(x, xo, 31, -0.5f, 15, dst, o, levels);
                int qh = o + 16;
                int ql = o + 48;
                Arrays.fill(dst, qh, qh + 32, (byte) 0);
                int m1 = 1;
                int m2 = 2;
                for (int nn = 0; nn < QK_K; nn += 64) {
                    for (int j = 0; j < 32; j++) {
                        int l1 = levels[nn + j];
                        if (l1 > 15) {
                            l1 -= 16;
                            dst[qh + j] |= (byte) m1;
                        }
                        int l2 = levels[nn + j + 32];
                        if (l2 > 15) {
                            l2 -= 16;
                            dst[qh + j] |= (byte) m2;
                        }
                        dst[ql + j] = (byte) (l1 | (l2 << 4));
                    }
                    m1 <<= 2;
                    m2 <<= 2;
                    ql += 32;
                }
            }
        }

        @Override
        public void dequantize(byte[] src, int srcOff, float[] y, int off, int n) {
            for (int b = 0; b < n / QK_K; b++) {
                int o = srcOff + 176 * b;
                float d = half(src, o);
                float min = half(src, o + 2);
                int qh = o + 16;
                int ql = o + 48;
                int out = off + QK_K * b;
                int u1 = 1;
                int u2 = 2;
                for (int j = 0, is = 0; j < QK_K; j += 64, is += 2) {
                    float d1 = d * scaleK4(src, o + 4, is);
                    float m1 = min * minK4(src, o + 4, is);
                    float d2 = d * scaleK4(src, o + 4, is + 1);
                    float m2 = min * minK4(src, o + 4, is + 1);
                    for (int l = 0; l < 32; l++) {
                        y[out++] = d1 * ((src[ql + l] & 0xF) + ((src[qh + l] & u1) != 0 ? 16 : 0)) - m1;
                    }
                    for (int l = 0; l < 32; l++) {
                        y[out++] = d2 * (((src[ql + l] & 0xFF) >> 4) + ((src[qh + l] & u2) != 0 ? 16 : 0)) - m2;
                    }
                    ql += 32;
                    u1 <<= 2;
                    u2 <<= 2;
                }
            }
        }
    }

    /** 128 bytes of low nibbles, 64 bytes of high bit pairs, 16 signed 8-bit scales, d (f16). */
    static final class Q6_K extends BlockQuant {
        @Override
        public GgmlType type() {
            return GgmlType.Q6_K;
        }

        @Override
        public void quantize(float[] x, int off, int n, byte[] dst, int dstOff) {
            byte[] levels = new byte[QK_K];
            float[] scales = new float[16];
            for (int b = 0; b < n / QK_K; b++) {
                int xo = off + QK_K * b;
                int o = dstOff + 210 * b;
                float maxScale = 0;
                float maxAbsScale = 0;
                for (int ib = 0; ib < 16; ib++) {
                    float scale = makeQxQuants(16, 32, x, xo + 16 * ib, levels, 16 * ib);
                    scales[ib] = scale;
                    float abs = Math.abs(scale);
                    if (abs > maxAbsScale) {
                        maxAbsScale = abs;
                        maxScale = scale;
                    }
                }
                if (maxAbsScale < GROUP_MAX_EPS) {
                    Arrays.fill(dst, o, o + 210, (byte) 0);
                    continue;
                }
                float iscale = -128.f / maxScale;
                putHalf(dst, o + 208, 1 / iscale);
                for (int ib = 0; ib < 16; ib++) {
                    dst[o + 192 + ib] = (byte) Math.min(127, nearestInt(iscale * scales[ib]));
                }
                float dAll = half(dst, o + 208);
                for (int j = 0; j < 16; j++) {
                    float d = dAll * dst[o + 192 + j];
                    if (d == 0) {
                        continue;
                    }
                    for (int ii = 0; ii < 16; ii++) {
                        int l = nearestInt(x[xo + 16 * j + ii] / d);
                        levels[16 * j + ii] = (byte) (Math.max(-32, Math.min(31, l)) + 32);
                    }
                }
                int ql = o;
                int qh = o + 128;
                for (int j = 0; j < QK_K; j += 128) {
                    for (int l = 0; l < 32; l++) {
                        int q1 = levels[j + l] & 0xF;
                        int q2 = levels[j + l + 32] & 0xF;
                        int q3 = levels[j + l + 64] & 0xF;
                        int q4 = levels[j + l + 96] & 0xF;
                        dst[ql + l] = (byte) (q1 | (q3 << 4));
                        dst[ql + l + 32] = (byte) (q2 | (q4 << 4));
                        dst[qh + l] = (byte) ((levels[j + l] >> 4) | ((levels[j + l + 32] >> 4) << 2)
                                | ((levels[j + l + 64] >> 4) << 4) | ((levels[j + l + 96] >> 4) << 6));
                    }
                    ql += 64;
                    qh += 32;
                }
            }
        }

        @Override
        public void dequantize(byte[] src, int srcOff, float[] y, int off, int n) {
            for (int b = 0; b < n / QK_K; b++) {
                int o = srcOff + 210 * b;
                float d = half(src, o + 208);
                int ql = o;
                int qh = o + 128;
                int sc = o + 192;
                int out = off + QK_K * b;
                for (int nn = 0; nn < QK_K; nn += 128) {
                    for (int l = 0; l < 32; l++) {
                        int is = l / 16;
                        int h = src[qh + l] & 0xFF;
                        int q1 = ((src[ql + l] & 0xF) | ((h & 3) << 4)) - 32;
                        int q2 = ((src[ql + l + 32] & 0xF) | (((h >> 2) & 3) << 4)) - 32;
                        int q3 = (((src[ql + l] & 0xFF) >> 4) | (((h >> 4) & 3) << 4)) - 32;
                        int q4 = (((src[ql + l + 32] & 0xFF) >> 4) | (((h >> 6) & 3) << 4)) - 32;
                        y[out + l] = d * src[sc + is] * q1;
                        y[out + l + 32] = d * src[sc + is + 2] * q2;
                        y[out + l + 64] = d * src[sc + is + 4] * q3;
                        y[out + l + 96] = d * src[sc + is + 6] * q4;
                    }
                    out += 128;
                    ql += 64;
                    qh += 32;
                    sc += 8;
                }
            }
        }
    }

    /** 16 bytes of 4-bit scales and mins, 64 bytes of 2-bit levels, d, dmin (f16). Read only. */
    static final class Q2_K extends BlockQuant.ReadOnly {
        @Override
        public GgmlType type() {
            return GgmlType.Q2_K;
        }

        @Override
        public void dequantize(byte[] src, int srcOff, float[] y, int off, int n) {
            for (int b = 0; b < n / QK_K; b++) {
                int o = srcOff + 84 * b;
                float d = half(src, o + 80);
                float min = half(src, o + 82);
                int q = o + 16;
                int out = off + QK_K * b;
                int is = 0;
                for (int nn = 0; nn < QK_K; nn += 128) {
                    int shift = 0;
                    for (int j = 0; j < 4; j++) {
                        int sc = src[o + is++] & 0xFF;
                        float dl = d * (sc & 0xF);
                        float ml = min * (sc >> 4);
                        for (int l = 0; l < 16; l++) {
                            y[out++] = dl * (((src[q + l] & 0xFF) >> shift) & 3) - ml;
                        }
                        sc = src[o + is++] & 0xFF;
                        dl = d * (sc & 0xF);
                        ml = min * (sc >> 4);
                        for (int l = 0; l < 16; l++) {
                            y[out++] = dl * (((src[q + l + 16] & 0xFF) >> shift) & 3) - ml;
                        }
                        shift += 2;
                    }
                    q += 32;
                }
            }
        }
    }

    /** 32 bytes of high bits, 64 bytes of 2-bit levels, 12 bytes of 6-bit scales, d (f16). Read only. */
    static final class Q3_K extends BlockQuant.ReadOnly {
        @Override
        public GgmlType type() {
            return GgmlType.Q3_K;
        }

        @Override
        public void dequantize(byte[] src, int srcOff, float[] y, int off, int n) {
            int[] aux = new int[4];
            byte[] scales = new byte[16];
            for (int b = 0; b < n / QK_K; b++) {
                int o = srcOff + 110 * b;
                float dAll = half(src, o + 108);
                int q = o + 32;
                int hm = o;
                int m = 1;
                for (int i = 0; i < 3; i++) {
                    aux[i] = LegacyQuants.getInt(src, o + 96 + 4 * i);
                }
                int tmp = aux[2];
                int kmask1 = 0x03030303;
                int kmask2 = 0x0f0f0f0f;
                aux[2] = ((aux[0] >>> 4) & kmask2) | (((tmp >>> 4) & kmask1) << 4);
                aux[3] = ((aux[1] >>> 4) & kmask2) | (((tmp >>> 6) & kmask1) << 4);
                aux[0] = (aux[0] & kmask2) | (((tmp) & kmask1) << 4);
                aux[1] = (aux[1] & kmask2) | (((tmp >>> 2) & kmask1) << 4);
                for (int i = 0; i < 16; i++) {
                    scales[i] = (byte) (aux[i / 4] >>> (8 * (i % 4)));
                }
                int out = off + QK_K * b;
                int is = 0;
                for (int nn = 0; nn < QK_K; nn += 128) {
                    int shift = 0;
                    for (int j = 0; j < 4; j++) {
                        float dl = dAll * (scales[is++] - 32);
                        for (int l = 0; l < 16; l++) {
                            y[out++] = dl * ((((src[q + l] & 0xFF) >> shift) & 3) - ((src[hm + l] & m) != 0 ? 0 : 4));
                        }
                        dl = dAll * (scales[is++] - 32);
                        for (int l = 0; l < 16; l++) {
                            y[out++] = dl * ((((src[q + l + 16] & 0xFF) >> shift) & 3)
                                    - ((src[hm + l + 16] & m) != 0 ? 0 : 4));
                        }
                        shift += 2;
                        m <<= 1;
                    }
                    q += 32;
                }
            }
        }
    }
}
