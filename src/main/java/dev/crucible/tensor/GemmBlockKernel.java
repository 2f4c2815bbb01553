package dev.crucible.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Dot products of a float32 activation row with one row of a {@link BlockMatrix}, decoding the blocks in registers:
 * L packed integers are loaded as one byte vector, unpacked with byte shifts and masks, widened to a float vector
 * and multiplied by L activations; each (sub-)block's sum is scaled once by its float scale. Activations stay
 * float32 (llama.cpp instead rounds them to 8 bits and multiplies integers): the result is the float32 product
 * with the dequantised weights, up to the order of the sums.
 *
 * <p>Where a format subtracts a minimum per sub-block (Q4_K, Q5_K: value d·sc·q − dmin·m), the minimum multiplies
 * the sub-block's activation sum, computed once per activation row ({@link #subBlockSums}) for all output rows.
 *
 * <p>Each output is one fixed chain (lanes, then {@link VectorMath#sumLanes}) whatever the batch, the task split or
 * the thread count, and every operation (byte logic, exact widening, mul, fma) gives the same bits interpreted and
 * compiled: a token gets the same bits in a decode step and in a prefill.
 */
final class GemmBlockKernel {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    /** L bytes: one load unpacks to L values (byte vectors of 64 or 128 bits). */
    private static final VectorSpecies<Byte> B = L == 8 || L == 16 ? VectorSpecies.of(byte.class,
            VectorShape.forBitSize(L * 8)) : null;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfShort HALF = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfByte BYTE = ValueLayout.JAVA_BYTE;

    private GemmBlockKernel() {
    }

    /** Whether this machine's vectors suit the kernels (8 or 16 float lanes: AVX2, AVX-512, SVE-256/512). */
    static boolean supported() {
        return B != null;
    }

    /** Whether {@code f}'s dot products need {@link #subBlockSums}. */
    static boolean needsSums(BlockFormat f) {
        return f == BlockFormat.Q4_K || f == BlockFormat.Q5_K;
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
    static float dot(BlockFormat f, MemorySegment w, long off, int cols, float[] x, int xOff, float[] sums, int sOff) {
        return switch (f) {
            case Q8_0 -> q8_0(w, off, cols, x, xOff);
            case Q4_0 -> q4_0(w, off, cols, x, xOff);
            case Q4_K -> q4_K(w, off, cols, x, xOff, sums, sOff);
            case Q5_K -> q5_K(w, off, cols, x, xOff, sums, sOff);
            case Q6_K -> q6_K(w, off, cols, x, xOff);
        };
    }

    private static FloatVector widen(ByteVector v) {
        return (FloatVector) v.convertShape(VectorOperators.B2F, F, 0);
    }

    private static ByteVector bytes(MemorySegment w, long off) {
        return ByteVector.fromMemorySegment(B, w, off, LE);
    }

    private static FloatVector xs(float[] x, int o) {
        return FloatVector.fromArray(F, x, o);
    }

    private static float half(MemorySegment w, long off) {
        return Float.float16ToFloat(w.get(HALF, off));
    }

    private static float q8_0(MemorySegment w, long off, int cols, float[] x, int xOff) {
        FloatVector acc = FloatVector.zero(F);
        for (int p = 0; p < cols; p += 32, off += 34) {
            FloatVector s = widen(bytes(w, off + 2)).mul(xs(x, xOff + p));
            for (int i = L; i < 32; i += L) {
                s = widen(bytes(w, off + 2 + i)).fma(xs(x, xOff + p + i), s);
            }
            acc = s.fma(FloatVector.broadcast(F, half(w, off)), acc);
        }
        return VectorMath.sumLanes(acc);
    }

    private static float q4_0(MemorySegment w, long off, int cols, float[] x, int xOff) {
        FloatVector acc = FloatVector.zero(F);
        for (int p = 0; p < cols; p += 32, off += 18) {
            FloatVector s = FloatVector.zero(F);
            for (int i = 0; i < 16; i += L) { // byte j holds value j (low nibble) and j + 16 (high)
                ByteVector q = bytes(w, off + 2 + i);
                s = widen(q.and((byte) 0x0F).sub((byte) 8)).fma(xs(x, xOff + p + i), s);
                s = widen(q.lanewise(VectorOperators.LSHR, 4).sub((byte) 8)).fma(xs(x, xOff + p + 16 + i), s);
            }
            acc = s.fma(FloatVector.broadcast(F, half(w, off)), acc);
        }
        return VectorMath.sumLanes(acc);
    }

    /** ggml's get_scale_min_k4: the 6-bit scale (0) or minimum (1) of sub-block j from the 12 bytes at {@code sc}. */
    private static int scaleMin(MemorySegment w, long sc, int j, int which) {
        if (j < 4) {
            return w.get(BYTE, sc + j + 4L * which) & 63;
        }
        int packed = w.get(BYTE, sc + j + 4) & 0xFF;
        int high = (w.get(BYTE, sc + j - 4L + 4L * which) & 0xFF) >> 6;
        return (which == 0 ? packed & 0xF : packed >> 4) | high << 4;
    }

    private static float q4_K(MemorySegment w, long off, int cols, float[] x, int xOff, float[] sums, int sOff) {
        FloatVector acc = FloatVector.zero(F);
        float mins = 0;
        for (int p = 0; p < cols; p += 256, off += 144, sOff += 8) {
            float d = half(w, off);
            float dmin = half(w, off + 2);
            for (int j = 0; j < 4; j++) { // 64 values: 32 bytes, low nibbles sub-block 2j, high nibbles 2j + 1
                long q = off + 16 + 32L * j;
                int xo = xOff + p + 64 * j;
                FloatVector lo = FloatVector.zero(F);
                FloatVector hi = FloatVector.zero(F);
                for (int l = 0; l < 32; l += L) {
                    ByteVector v = bytes(w, q + l);
                    lo = widen(v.and((byte) 0x0F)).fma(xs(x, xo + l), lo);
                    hi = widen(v.lanewise(VectorOperators.LSHR, 4)).fma(xs(x, xo + 32 + l), hi);
                }
                acc = lo.fma(FloatVector.broadcast(F, d * scaleMin(w, off + 4, 2 * j, 0)), acc);
                acc = hi.fma(FloatVector.broadcast(F, d * scaleMin(w, off + 4, 2 * j + 1, 0)), acc);
                mins += dmin * scaleMin(w, off + 4, 2 * j, 1) * sums[sOff + 2 * j]
                        + dmin * scaleMin(w, off + 4, 2 * j + 1, 1) * sums[sOff + 2 * j + 1];
            }
        }
        return VectorMath.sumLanes(acc) - mins;
    }

    private static float q5_K(MemorySegment w, long off, int cols, float[] x, int xOff, float[] sums, int sOff) {
        FloatVector acc = FloatVector.zero(F);
        float mins = 0;
        for (int p = 0; p < cols; p += 256, off += 176, sOff += 8) {
            float d = half(w, off);
            float dmin = half(w, off + 2);
            for (int j = 0; j < 4; j++) { // as Q4_K; value l's fifth bit is bit 2j (low) or 2j + 1 (high) of qh[l]
                long q = off + 48 + 32L * j;
                int xo = xOff + p + 64 * j;
                FloatVector lo = FloatVector.zero(F);
                FloatVector hi = FloatVector.zero(F);
                for (int l = 0; l < 32; l += L) {
                    ByteVector v = bytes(w, q + l);
                    ByteVector h = bytes(w, off + 16 + l);
                    ByteVector l5 = h.lanewise(VectorOperators.LSHR, 2 * j).and((byte) 1).lanewise(VectorOperators.LSHL, 4);
                    ByteVector h5 = h.lanewise(VectorOperators.LSHR, 2 * j + 1).and((byte) 1).lanewise(VectorOperators.LSHL, 4);
                    lo = widen(v.and((byte) 0x0F).or(l5)).fma(xs(x, xo + l), lo);
                    hi = widen(v.lanewise(VectorOperators.LSHR, 4).or(h5)).fma(xs(x, xo + 32 + l), hi);
                }
                acc = lo.fma(FloatVector.broadcast(F, d * scaleMin(w, off + 4, 2 * j, 0)), acc);
                acc = hi.fma(FloatVector.broadcast(F, d * scaleMin(w, off + 4, 2 * j + 1, 0)), acc);
                mins += dmin * scaleMin(w, off + 4, 2 * j, 1) * sums[sOff + 2 * j]
                        + dmin * scaleMin(w, off + 4, 2 * j + 1, 1) * sums[sOff + 2 * j + 1];
            }
        }
        return VectorMath.sumLanes(acc) - mins;
    }

    private static float q6_K(MemorySegment w, long off, int cols, float[] x, int xOff) {
        FloatVector acc = FloatVector.zero(F);
        for (int p = 0; p < cols; p += 256, off += 210) {
            float d = half(w, off + 208);
            for (int n = 0; n < 2; n++) { // 128 values: 64 bytes of low 4 bits, 32 of high 2 bits, 8 scales
                long ql = off + 64L * n;
                long qh = off + 128 + 32L * n;
                long sc = off + 192 + 8L * n;
                int xo = xOff + p + 128 * n;
                for (int l = 0; l < 32; l += L) {
                    int is = l / 16;
                    ByteVector a = bytes(w, ql + l);
                    ByteVector b = bytes(w, ql + 32 + l);
                    ByteVector h = bytes(w, qh + l);
                    ByteVector q1 = a.and((byte) 0x0F).or(h.and((byte) 3).lanewise(VectorOperators.LSHL, 4));
                    ByteVector q2 = b.and((byte) 0x0F).or(h.lanewise(VectorOperators.LSHR, 2).and((byte) 3)
                            .lanewise(VectorOperators.LSHL, 4));
                    ByteVector q3 = a.lanewise(VectorOperators.LSHR, 4).or(h.lanewise(VectorOperators.LSHR, 4)
                            .and((byte) 3).lanewise(VectorOperators.LSHL, 4));
                    ByteVector q4 = b.lanewise(VectorOperators.LSHR, 4).or(h.lanewise(VectorOperators.LSHR, 6)
                            .lanewise(VectorOperators.LSHL, 4));
                    acc = widen(q1.sub((byte) 32)).mul(xs(x, xo + l))
                            .fma(FloatVector.broadcast(F, d * w.get(BYTE, sc + is)), acc);
                    acc = widen(q2.sub((byte) 32)).mul(xs(x, xo + 32 + l))
                            .fma(FloatVector.broadcast(F, d * w.get(BYTE, sc + is + 2)), acc);
                    acc = widen(q3.sub((byte) 32)).mul(xs(x, xo + 64 + l))
                            .fma(FloatVector.broadcast(F, d * w.get(BYTE, sc + is + 4)), acc);
                    acc = widen(q4.sub((byte) 32)).mul(xs(x, xo + 96 + l))
                            .fma(FloatVector.broadcast(F, d * w.get(BYTE, sc + is + 6)), acc);
                }
            }
        }
        return VectorMath.sumLanes(acc);
    }
}
