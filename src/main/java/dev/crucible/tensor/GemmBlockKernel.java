package dev.crucible.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * Dot products of a float32 activation row with one row of a {@link BlockMatrix}, decoding the blocks in registers:
 * L packed integers are loaded as one byte vector, unpacked with byte shifts and masks, widened to a float vector
 * and multiplied by L activations; each (sub-)block's sum is scaled once by its float scale. Activations stay
 * float32 (llama.cpp instead rounds them to 8 bits and multiplies integers, as {@link NativeBlockKernels} does for
 * the k-quants where its library is present): the result is the float32 product with the dequantised weights, up
 * to the order of the sums.
 *
 * <p>Where a format adds a minimum per (sub-)block (Q4_1, Q5_1: value d·q + m; Q4_K, Q5_K: d·sc·q − dmin·m), the
 * minimum multiplies the block's activation sum, computed once per activation row ({@link #subBlockSums}) for all output rows.
 *
 * <p>Each output is one fixed chain (lanes, then a fixed pairwise sum of the lanes) whatever the batch, the task
 * split or the thread count, and every operation (byte logic, exact widening, mul, fma) gives the same bits
 * interpreted and compiled: a token gets the same bits in a decode step and in a prefill.
 *
 * <p>The kernels are written out, without helpers taking or returning vectors: C2 declined to inline such helpers
 * inside these loops (budget exhausted by the inlined Vector API), boxing every vector (50-100 times slower). Packed
 * fields are unpacked on int lanes after widening the bytes (sign extension is harmless: masks follow): C2 does not
 * intrinsify byte-lane shifts on x86, nor reliably a byte/int reinterpretation inside a big loop. Each kernel stores
 * its lane sums in {@code lanes[0, L)} and the scalar part to subtract (minimums) in {@code lanes[L]}; the k-quants
 * unpack a block's scales into {@code lanes} after that ({@link #SCRATCH} floats in all).
 */
final class GemmBlockKernel {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    /** L bytes: one load unpacks to L values (byte vectors of 64 or 128 bits). */
    private static final VectorSpecies<Byte> B = L == 8 || L == 16 ? VectorSpecies.of(byte.class,
            VectorShape.forBitSize(L * 8)) : null;
    /** 32 bytes, two halves of L = 16 bytes (one 256-bit load for 32 nibble pairs); null on 8 lanes. */
    private static final VectorSpecies<Byte> B32 = L == 16 ? ByteVector.SPECIES_256 : null;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfShort HALF = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfByte BYTE = ValueLayout.JAVA_BYTE;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(LE);

    /** Floats of the scratch {@link #dot} takes. */
    static final int SCRATCH = L + 17;

    private GemmBlockKernel() {
    }

    /** Whether this machine's vectors suit the kernels (8 or 16 float lanes: AVX2, AVX-512, SVE-256/512). */
    static boolean supported() {
        return B != null;
    }

    /** Whether {@code f}'s dot products need {@link #subBlockSums}. */
    static boolean needsSums(BlockFormat f) {
        return f == BlockFormat.Q4_K || f == BlockFormat.Q5_K || f == BlockFormat.Q4_1 || f == BlockFormat.Q5_1;
    }

    /** The sums of each 32 consecutive values of the m rows of x [m, cols], row after row. */
    static float[] subBlockSums(float[] x, int m, int cols) {
        int per = cols / 32;
        float[] sums = new float[m * per];
        for (int r = 0; r < m; r++) {
            for (int s = 0; s < per; s++) {
                int o = r * cols + 32 * s;
                FloatVector v = FloatVector.fromArray(F, x, o);
                for (int i = L; i < 32; i += L) {
                    v = v.add(FloatVector.fromArray(F, x, o + i));
                }
                sums[r * per + s] = VectorMath.sumLanes(v);
            }
        }
        return sums;
    }

    /**
     * Σ_p W[row, p]·x[xOff + p] for the row of {@code cols} values at byte {@code off} of {@code w}; {@code sums}
     * from {@code sOff} are x's {@link #subBlockSums} (null where the format needs none).
     */
    static float dot(BlockFormat f, MemorySegment w, long off, int cols, float[] x, int xOff, float[] sums, int sOff,
                     float[] lanes) {
        switch (f) {
            case Q8_0 -> q8_0(w, off, cols, x, xOff, lanes);
            case Q4_0 -> q4_0(w, off, cols, x, xOff, lanes);
            case Q4_1 -> q4_1(w, off, cols, x, xOff, sums, sOff, lanes);
            case Q5_0 -> q5(w, off, cols, x, xOff, sums, sOff, lanes, false);
            case Q5_1 -> q5(w, off, cols, x, xOff, sums, sOff, lanes, true);
            case Q4_K -> q4_K(w, off, cols, x, xOff, sums, sOff, lanes);
            case Q5_K -> q5_K(w, off, cols, x, xOff, sums, sOff, lanes);
            case Q6_K -> q6_K(w, off, cols, x, xOff, lanes);
        }
        return sum(lanes) - lanes[L];
    }

    /** The L lanes stored by a kernel, summed in a fixed pairwise order (as {@link VectorMath#sumLanes}). */
    private static float sum(float[] lanes) {
        for (int half = L / 2; half > 0; half /= 2) {
            for (int i = 0; i < half; i++) {
                lanes[i] += lanes[i + half];
            }
        }
        return lanes[0];
    }

    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    private static final VectorOperators.Conversion<Byte, Float> B2F = VectorOperators.B2F;
    private static final VectorOperators.Conversion<Byte, Integer> B2I = VectorOperators.B2I;
    private static final VectorOperators.Conversion<Integer, Float> I2F = VectorOperators.I2F;
    private static final VectorOperators.Binary SHR = VectorOperators.LSHR;
    private static final VectorOperators.Binary SHL = VectorOperators.LSHL;

    private static void q8_0(MemorySegment w, long off, int cols, float[] x, int xOff, float[] lanes) {
        FloatVector acc = FloatVector.zero(F);
        for (int p = 0; p < cols; p += 32, off += 34) {
            FloatVector s = FloatVector.zero(F);
            for (int i = 0; i < 32; i += L) {
                FloatVector q = (FloatVector) ByteVector.fromMemorySegment(B, w, off + 2 + i, LE).convertShape(B2F, F, 0);
                s = q.fma(FloatVector.fromArray(F, x, xOff + p + i), s);
            }
            acc = s.fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(HALF, off))), acc);
        }
        acc.intoArray(lanes, 0);
        lanes[L] = 0;
    }

    private static void q4_0(MemorySegment w, long off, int cols, float[] x, int xOff, float[] lanes) {
        FloatVector acc = FloatVector.zero(F);
        for (int p = 0; p < cols; p += 32, off += 18) {
            FloatVector s = FloatVector.zero(F);
            for (int i = 0; i < 16; i += L) { // byte j holds value j (low nibble) and j + 16 (high)
                IntVector q = (IntVector) ByteVector.fromMemorySegment(B, w, off + 2 + i, LE).convertShape(B2I, I, 0);
                IntVector lo = q.and(0x0F).sub(8);
                IntVector hi = q.lanewise(SHR, 4).and(0x0F).sub(8);
                s = ((FloatVector) lo.convertShape(I2F, F, 0)).fma(FloatVector.fromArray(F, x, xOff + p + i), s);
                s = ((FloatVector) hi.convertShape(I2F, F, 0)).fma(FloatVector.fromArray(F, x, xOff + p + 16 + i), s);
            }
            acc = s.fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(HALF, off))), acc);
        }
        acc.intoArray(lanes, 0);
        lanes[L] = 0;
    }

    private static void q4_1(MemorySegment w, long off, int cols, float[] x, int xOff, float[] sums, int sOff,
                             float[] lanes) {
        FloatVector acc = FloatVector.zero(F);
        float mins = 0;
        for (int p = 0; p < cols; p += 32, off += 20, sOff++) {
            FloatVector s = FloatVector.zero(F);
            for (int i = 0; i < 16; i += L) { // as Q4_0, without the offset of 8
                IntVector q = (IntVector) ByteVector.fromMemorySegment(B, w, off + 4 + i, LE).convertShape(B2I, I, 0);
                s = ((FloatVector) q.and(0x0F).convertShape(I2F, F, 0)).fma(FloatVector.fromArray(F, x, xOff + p + i), s);
                s = ((FloatVector) q.lanewise(SHR, 4).and(0x0F).convertShape(I2F, F, 0))
                        .fma(FloatVector.fromArray(F, x, xOff + p + 16 + i), s);
            }
            acc = s.fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(HALF, off))), acc);
            mins -= Float.float16ToFloat(w.get(HALF, off + 2)) * sums[sOff];
        }
        acc.intoArray(lanes, 0);
        lanes[L] = mins;
    }

    /** Lane indices 0..L-1: the bit of a Q5_0 / Q5_1 block's 32-bit qh that each lane's value takes. */
    private static final IntVector IOTA = IntVector.zero(I).addIndex(1);

    /**
     * Q5_0, or Q5_1 when {@code min}: value j's fifth bit is bit j of the block's 32-bit qh, moved to bit 4 by a
     * shift per lane.
     */
    private static void q5(MemorySegment w, long off, int cols, float[] x, int xOff, float[] sums, int sOff,
                           float[] lanes, boolean min) {
        FloatVector acc = FloatVector.zero(F);
        float mins = 0;
        int size = min ? 24 : 22;
        long qs = min ? 8 : 6;
        int offset = min ? 0 : 16;
        for (int p = 0; p < cols; p += 32, off += size, sOff++) {
            IntVector qh = IntVector.broadcast(I, w.get(INT, off + qs - 4));
            FloatVector s = FloatVector.zero(F);
            for (int i = 0; i < 16; i += L) {
                IntVector q = (IntVector) ByteVector.fromMemorySegment(B, w, off + qs + i, LE).convertShape(B2I, I, 0);
                IntVector lo = q.and(0x0F).or(qh.lanewise(SHR, IOTA.add(i)).and(1).lanewise(SHL, 4)).sub(offset);
                IntVector hi = q.lanewise(SHR, 4).and(0x0F).or(qh.lanewise(SHR, IOTA.add(i + 16)).and(1).lanewise(SHL, 4))
                        .sub(offset);
                s = ((FloatVector) lo.convertShape(I2F, F, 0)).fma(FloatVector.fromArray(F, x, xOff + p + i), s);
                s = ((FloatVector) hi.convertShape(I2F, F, 0)).fma(FloatVector.fromArray(F, x, xOff + p + 16 + i), s);
            }
            acc = s.fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(HALF, off))), acc);
            if (min) {
                mins -= Float.float16ToFloat(w.get(HALF, off + 2)) * sums[sOff];
            }
        }
        acc.intoArray(lanes, 0);
        lanes[L] = mins;
    }

    /** Where a Q4_K / Q5_K block's 8 scaled scales d·sc and 8 scaled minimums dmin·m go in the scratch. */
    private static final int K_SCALES = L + 1;

    /**
     * The Q4_K / Q5_K block at {@code off}: d·sc of its 8 sub-blocks into {@code s[K_SCALES..]} and dmin·m after
     * them, from the 12 bytes of 6-bit scales and minimums as ggml's get_scale_min_k4 unpacks them (j < 4: the low
     * 6 bits of bytes j and j + 4; else 4 bits of byte j + 4 and the top 2 bits of bytes j - 4 and j).
     */
    private static void kScales(MemorySegment w, long off, float[] s) {
        float d = Float.float16ToFloat(w.get(HALF, off));
        float dmin = Float.float16ToFloat(w.get(HALF, off + 2));
        int lo = w.get(INT, off + 4); // bytes 0-3
        int hi = w.get(INT, off + 8); // bytes 4-7
        int top = w.get(INT, off + 12); // bytes 8-11
        // four 6-bit values per int, one per byte (ggml's own unpacking, four bytes at a time)
        int sc03 = lo & 0x3F3F3F3F;
        int m03 = hi & 0x3F3F3F3F;
        int sc47 = top & 0x0F0F0F0F | (lo >>> 6 & 0x03030303) << 4;
        int m47 = top >>> 4 & 0x0F0F0F0F | (hi >>> 6 & 0x03030303) << 4;
        for (int j = 0; j < 4; j++) {
            s[K_SCALES + j] = d * (sc03 >>> 8 * j & 0xFF);
            s[K_SCALES + 4 + j] = d * (sc47 >>> 8 * j & 0xFF);
            s[K_SCALES + 8 + j] = dmin * (m03 >>> 8 * j & 0xFF);
            s[K_SCALES + 12 + j] = dmin * (m47 >>> 8 * j & 0xFF);
        }
    }

    /**
     * Q4_K: each 64 values are 32 bytes of nibbles, the low ones sub-block 2j, the high ones 2j + 1. The block's
     * scales stay in locals, unpacked as {@link #kScales} does (same products, same bits), the eight d·sc before the
     * sub-block loop: going through the scratch array cost a store, a reload and a bounds check per scale, and
     * extracting each scale inside the loop cost about 1.4x in the hottest decode loop (docs/BENCHMARKS.md, GGUF
     * decode round 6). The 32 bytes of a sub-block pair are one load, widened in two halves (on 16 float lanes; two
     * loads of L bytes on 8).
     */
    private static void q4_K(MemorySegment w, long off, int cols, float[] x, int xOff, float[] sums, int sOff,
                             float[] lanes) {
        Objects.checkFromIndexSize(xOff, cols, x.length);
        Objects.checkFromIndexSize(sOff, cols / 32, sums.length);
        FloatVector acc = FloatVector.zero(F);
        float mins = 0;
        int blocks = cols / 256;
        for (int k = 0; k < blocks; k++) {
            long b = off + 144L * k;
            int xb = xOff + 256 * k;
            int sb = sOff + 8 * k;
            float d = Float.float16ToFloat(w.get(HALF, b));
            float dmin = Float.float16ToFloat(w.get(HALF, b + 2));
            int lo6 = w.get(INT, b + 4);
            int hi6 = w.get(INT, b + 8);
            int top = w.get(INT, b + 12);
            int sc03 = lo6 & 0x3F3F3F3F;
            int m03 = hi6 & 0x3F3F3F3F;
            int sc47 = top & 0x0F0F0F0F | (lo6 >>> 6 & 0x03030303) << 4;
            int m47 = top >>> 4 & 0x0F0F0F0F | (hi6 >>> 6 & 0x03030303) << 4;
            float s0 = d * (sc03 & 0xFF), s1 = d * (sc03 >>> 8 & 0xFF), s2 = d * (sc03 >>> 16 & 0xFF);
            float s3 = d * (sc03 >>> 24), s4 = d * (sc47 & 0xFF), s5 = d * (sc47 >>> 8 & 0xFF);
            float s6 = d * (sc47 >>> 16 & 0xFF), s7 = d * (sc47 >>> 24);
            for (int j = 0; j < 4; j++) {
                float scaleLo = j == 0 ? s0 : j == 1 ? s2 : j == 2 ? s4 : s6;
                float scaleHi = j == 0 ? s1 : j == 1 ? s3 : j == 2 ? s5 : s7;
                int ms = j < 2 ? m03 : m47;
                int shift = 16 * (j & 1);
                long q = b + 16 + 32L * j;
                int xo = xb + 64 * j;
                FloatVector lo = FloatVector.zero(F);
                FloatVector hi = FloatVector.zero(F);
                if (B32 != null) {
                    ByteVector v32 = ByteVector.fromMemorySegment(B32, w, q, LE);
                    IntVector v = (IntVector) v32.convertShape(B2I, I, 0);
                    IntVector u = (IntVector) v32.convertShape(B2I, I, 1);
                    lo = ((FloatVector) v.and(0x0F).convertShape(I2F, F, 0)).fma(FloatVector.fromArray(F, x, xo), lo);
                    hi = ((FloatVector) v.lanewise(SHR, 4).and(0x0F).convertShape(I2F, F, 0))
                            .fma(FloatVector.fromArray(F, x, xo + 32), hi);
                    lo = ((FloatVector) u.and(0x0F).convertShape(I2F, F, 0)).fma(FloatVector.fromArray(F, x, xo + 16), lo);
                    hi = ((FloatVector) u.lanewise(SHR, 4).and(0x0F).convertShape(I2F, F, 0))
                            .fma(FloatVector.fromArray(F, x, xo + 48), hi);
                } else {
                    for (int l = 0; l < 32; l += L) {
                        IntVector v = (IntVector) ByteVector.fromMemorySegment(B, w, q + l, LE).convertShape(B2I, I, 0);
                        IntVector a = v.and(0x0F);
                        IntVector c = v.lanewise(SHR, 4).and(0x0F);
                        lo = ((FloatVector) a.convertShape(I2F, F, 0)).fma(FloatVector.fromArray(F, x, xo + l), lo);
                        hi = ((FloatVector) c.convertShape(I2F, F, 0)).fma(FloatVector.fromArray(F, x, xo + 32 + l), hi);
                    }
                }
                acc = lo.fma(FloatVector.broadcast(F, scaleLo), acc);
                acc = hi.fma(FloatVector.broadcast(F, scaleHi), acc);
                mins += dmin * (ms >>> shift & 0xFF) * sums[sb + 2 * j] + dmin * (ms >>> shift + 8 & 0xFF) * sums[sb + 2 * j + 1];
            }
        }
        acc.intoArray(lanes, 0);
        lanes[L] = mins;
    }

    /** Q5_K: Q4_K's layout plus 32 bytes of fifth bits, value l's being bit 2j (low) or 2j + 1 (high) of byte l. */
    private static void q5_K(MemorySegment w, long off, int cols, float[] x, int xOff, float[] sums, int sOff,
                             float[] lanes) {
        FloatVector acc = FloatVector.zero(F);
        float mins = 0;
        for (int p = 0; p < cols; p += 256, off += 176, sOff += 8) {
            kScales(w, off, lanes);
            for (int j = 0; j < 4; j++) {
                long q = off + 48 + 32L * j;
                int xo = xOff + p + 64 * j;
                FloatVector lo = FloatVector.zero(F);
                FloatVector hi = FloatVector.zero(F);
                for (int l = 0; l < 32; l += L) {
                    IntVector v = (IntVector) ByteVector.fromMemorySegment(B, w, q + l, LE).convertShape(B2I, I, 0);
                    IntVector h = (IntVector) ByteVector.fromMemorySegment(B, w, off + 16 + l, LE).convertShape(B2I, I, 0);
                    // the fifth bit moved to bit 4: (h >>> 2j << 4) & 0x10
                    IntVector a = v.and(0x0F).or(h.lanewise(SHR, 2 * j).lanewise(SHL, 4).and(0x10));
                    IntVector b = v.lanewise(SHR, 4).and(0x0F).or(h.lanewise(SHR, 2 * j + 1).lanewise(SHL, 4).and(0x10));
                    lo = ((FloatVector) a.convertShape(I2F, F, 0)).fma(FloatVector.fromArray(F, x, xo + l), lo);
                    hi = ((FloatVector) b.convertShape(I2F, F, 0)).fma(FloatVector.fromArray(F, x, xo + 32 + l), hi);
                }
                acc = lo.fma(FloatVector.broadcast(F, lanes[K_SCALES + 2 * j]), acc);
                acc = hi.fma(FloatVector.broadcast(F, lanes[K_SCALES + 2 * j + 1]), acc);
                mins += lanes[K_SCALES + 8 + 2 * j] * sums[sOff + 2 * j] + lanes[K_SCALES + 9 + 2 * j] * sums[sOff + 2 * j + 1];
            }
        }
        acc.intoArray(lanes, 0);
        lanes[L] = mins;
    }

    /**
     * Q6_K: each 128 values are 64 bytes of low nibbles (bytes l and l + 32: values l, l + 32 low, l + 64, l + 96
     * high) and 32 bytes of high bit pairs (byte l: bits 0-1, 2-3, 4-5, 6-7 for the four), one signed scale per 16.
     */
    private static void q6_K(MemorySegment w, long off, int cols, float[] x, int xOff, float[] lanes) {
        FloatVector acc = FloatVector.zero(F);
        for (int p = 0; p < cols; p += 256, off += 210) {
            float d = Float.float16ToFloat(w.get(HALF, off + 208));
            for (int n = 0; n < 2; n++) {
                long ql = off + 64L * n;
                long qh = off + 128 + 32L * n;
                long sc = off + 192 + 8L * n;
                int xo = xOff + p + 128 * n;
                for (int l = 0; l < 32; l += L) {
                    int is = l / 16;
                    IntVector a = (IntVector) ByteVector.fromMemorySegment(B, w, ql + l, LE).convertShape(B2I, I, 0);
                    IntVector b = (IntVector) ByteVector.fromMemorySegment(B, w, ql + 32 + l, LE).convertShape(B2I, I, 0);
                    IntVector h = (IntVector) ByteVector.fromMemorySegment(B, w, qh + l, LE).convertShape(B2I, I, 0);
                    IntVector q1 = a.and(0x0F).or(h.lanewise(SHL, 4).and(0x30)).sub(32);
                    IntVector q2 = b.and(0x0F).or(h.lanewise(SHL, 2).and(0x30)).sub(32);
                    IntVector q3 = a.lanewise(SHR, 4).and(0x0F).or(h.and(0x30)).sub(32);
                    IntVector q4 = b.lanewise(SHR, 4).and(0x0F).or(h.lanewise(SHR, 2).and(0x30)).sub(32);
                    acc = ((FloatVector) q1.convertShape(I2F, F, 0)).mul(FloatVector.fromArray(F, x, xo + l))
                            .fma(FloatVector.broadcast(F, d * w.get(BYTE, sc + is)), acc);
                    acc = ((FloatVector) q2.convertShape(I2F, F, 0)).mul(FloatVector.fromArray(F, x, xo + 32 + l))
                            .fma(FloatVector.broadcast(F, d * w.get(BYTE, sc + is + 2)), acc);
                    acc = ((FloatVector) q3.convertShape(I2F, F, 0)).mul(FloatVector.fromArray(F, x, xo + 64 + l))
                            .fma(FloatVector.broadcast(F, d * w.get(BYTE, sc + is + 4)), acc);
                    acc = ((FloatVector) q4.convertShape(I2F, F, 0)).mul(FloatVector.fromArray(F, x, xo + 96 + l))
                            .fma(FloatVector.broadcast(F, d * w.get(BYTE, sc + is + 6)), acc);
                }
            }
        }
        acc.intoArray(lanes, 0);
        lanes[L] = 0;
    }
}
