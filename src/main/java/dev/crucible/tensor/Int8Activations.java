package dev.crucible.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Activation rows x [m, cols] rounded to 8 bits per block of 256 values (32 for Q8_0 weights), as
 * {@link NativeBlockKernels} multiplies them: each block keeps {@code scale = 1 / (127 / max|x|)} and
 * {@code q_i = rint(x_i · (127 / max|x|))} in [-127, 127], so {@code x_i ≈ q_i · scale} within half a step. This is
 * llama.cpp's rounding of its activations: its Q8_K for the k-quants (whose scale is the reciprocal of the
 * multiplier too, up to the sign), its Q8_0 for q8_0 weights (which keeps the scale as float16, where this keeps
 * float32). With blocks of 256, {@code sums32} are the sums of each 32 q (Q4_K's and Q5_K's minimums multiply them)
 * and {@code sums16} of each 16 (Q6_K's values are stored as q + 32: the 32 times its scales multiply them).
 *
 * @param q      the rounded values, row after row [m · cols]
 * @param scales one per block, row after row [m · cols / block]
 * @param sums32 one per 32 values [m · cols / 32], or null with blocks of 32
 * @param sums16 one per 16 values [m · cols / 16], or null with blocks of 32
 */
record Int8Activations(byte[] q, float[] scales, int[] sums32, short[] sums16) {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** As many byte lanes as F has float lanes (F2B keeps the lane count). */
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(F.length() * 8));
    /** 1.5·2^23: adding and subtracting it rounds a float below 2^22 in magnitude to an integer, ties to even (rint). */
    private static final float RINT = 12582912f;

    /** Blocks of 256 values, for the k-quants; see {@link #of(float[], int, int, int)}. */
    static Int8Activations of(float[] x, int m, int cols) {
        return of(x, m, cols, 256);
    }

    /**
     * x's rows rounded per {@code block} values (256 or 32); null when cols is not whole blocks or a block holds an
     * infinity or NaN (the float kernels then carry them into the outputs, as the product of the unrounded values
     * would).
     */
    static Int8Activations of(float[] x, int m, int cols, int block) {
        if (cols % block != 0 || block % 16 != 0 || 16 % F.length() != 0) {
            return null;
        }
        byte[] q = new byte[m * cols];
        float[] scales = new float[m * cols / block];
        // the sums of each 16 rounded values: whole numbers below 2^11, so any order of the float additions is exact
        short[] sums16 = block == 256 ? new short[q.length / 16] : null;
        for (int b = 0; b < scales.length; b++) {
            int o = block * b;
            FloatVector max = FloatVector.zero(F);
            for (int i = 0; i < block; i += F.length()) {
                max = max.max(FloatVector.fromArray(F, x, o + i).abs());
            }
            float amax = max.reduceLanes(VectorOperators.MAX);
            if (!Float.isFinite(amax)) { // max carries a NaN through, as Math.max does
                return null;
            }
            if (amax == 0) {
                continue; // scale 0, q 0, sums 0
            }
            float inverse = 127 / amax;
            scales[b] = 1 / inverse;
            for (int i = 0; i < block; i += F.length()) {
                FloatVector v = FloatVector.fromArray(F, x, o + i).mul(inverse).add(RINT).sub(RINT).max(-127f).min(127f);
                v.convertShape(VectorOperators.F2B, B, 0).reinterpretAsBytes().intoArray(q, o + i);
                if (sums16 != null) {
                    sums16[(o + i) / 16] += (short) v.reduceLanes(VectorOperators.ADD);
                }
            }
        }
        int[] sums32 = null;
        if (sums16 != null) {
            sums32 = new int[sums16.length / 2];
            for (int i = 0; i < sums32.length; i++) {
                sums32[i] = sums16[2 * i] + sums16[2 * i + 1];
            }
        }
        return new Int8Activations(q, scales, sums32, sums16);
    }
}
