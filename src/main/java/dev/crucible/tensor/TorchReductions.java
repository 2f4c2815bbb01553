package dev.crucible.tensor;

/**
 * Float32 reductions in the order torch's CPU kernels use, where the result feeds later steps unrounded:
 * {@code linalg.norm} of a float32 vector accumulates {@code x·x} with fused multiply-adds into 8 lanes, adds
 * the lanes left to right, then the tail.
 */
public final class TorchReductions {
    private static final int LANES = 8;

    private TorchReductions() {
    }

    /** {@code torch.linalg.norm(x[0..n))} for a float32 vector. */
    public static float norm(float[] x, int n) {
        float[] acc = new float[LANES];
        int d = 0;
        for (; d + LANES <= n; d += LANES) {
            for (int j = 0; j < LANES; j++) {
                acc[j] = Math.fma(x[d + j], x[d + j], acc[j]);
            }
        }
        float s = acc[0];
        for (int j = 1; j < LANES; j++) {
            s += acc[j];
        }
        for (; d < n; d++) {
            s += x[d] * x[d];
        }
        return (float) Math.sqrt(s);
    }
}
