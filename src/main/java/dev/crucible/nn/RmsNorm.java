package dev.crucible.nn;

import dev.crucible.tensor.Parallel;
import dev.crucible.tensor.VectorMath;

/**
 * Root-mean-square normalisation over the last dimension, in float32 as transformers computes it:
 * {@code x · rsqrt(mean(x²) + eps) · w}, or {@code · (1 + w)} for Gemma's unit-offset norms.
 */
public final class RmsNorm {
    private final float[] scale;
    private final float eps;

    /** @param weight the stored norm weight; {@code unitOffset} folds Gemma's (1 + w) in once */
    public RmsNorm(float[] weight, boolean unitOffset, double eps) {
        this.scale = weight.clone();
        if (unitOffset) {
            for (int i = 0; i < scale.length; i++) {
                scale[i] = 1f + scale[i];
            }
        }
        this.eps = (float) eps;
    }

    public int size() {
        return scale.length;
    }

    /** Normalises {@code rows} consecutive vectors of {@link #size()} from {@code x} into {@code out}. */
    public void apply(float[] x, int rows, float[] out) {
        apply(x, 0, size(), rows, out, 0, size());
    }

    /** Normalises {@code rows} vectors found every {@code stride} floats from {@code offset}; may work in place. */
    public void apply(float[] x, int offset, int stride, int rows, float[] out, int outOffset, int outStride) {
        int d = scale.length;
        int tasks = (rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
        Parallel.forEach(tasks, 4L * rows * d, task -> {
            for (int r = task * ROWS_PER_TASK; r < Math.min(rows, (task + 1) * ROWS_PER_TASK); r++) {
                int xo = offset + r * stride;
                int oo = outOffset + r * outStride;
                float inv = (float) (1.0 / Math.sqrt(VectorMath.sumOfSquares(x, xo, d) / d + eps));
                for (int i = 0; i < d; i++) {
                    out[oo + i] = scale[i] * (x[xo + i] * inv);
                }
            }
        });
    }

    /** Rows per parallel task (each row is normalised on its own, so the split never changes a result). */
    private static final int ROWS_PER_TASK = 32;
}
