package dev.crucible.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.util.stream.IntStream;

/**
 * Matrix products with an NF4 weight that never materialise the float32 matrix: each task dequantises a few
 * rows (or a column slice) into a small buffer that stays in cache and runs Vector API FMAs against it. This is
 * the QLoRA linear layer's forward ({@code x W^T}) and its input gradient ({@code dy W}).
 */
public final class Nf4Matmul {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int COLS_PER_TASK = 256;
    /** Below this many multiply-adds a product runs on the calling thread. */
    private static final long PARALLEL_WORK = 1 << 20;

    private Nf4Matmul() {
    }

    /**
     * {@code y[m, out] = x[m, in] · W^T} with W [out, in] in NF4; {@code y} is overwritten. Each task dequantises one
     * vector's width of W rows into a transposed tile [in][lanes], so every output vector is a chain of FMAs of a
     * broadcast x value with one tile row: no horizontal reductions.
     */
    public static void matmul(float[] x, int m, Nf4Weight w, float[] y) {
        int in = w.cols();
        int out = w.rows();
        check(x.length == (long) m * in && y.length == (long) m * out, "matmul", m, w);
        int lanes = F.length();
        int tasks = (out + lanes - 1) / lanes;
        range(tasks, (long) m * in * out).forEach(t -> {
            int o0 = t * lanes;
            int count = Math.min(lanes, out - o0);
            float[] row = new float[in];
            float[] tile = new float[in * lanes];
            for (int r = 0; r < count; r++) {
                w.dequantize((long) (o0 + r) * in, row, 0, in);
                for (int i = 0; i < in; i++) {
                    tile[i * lanes + r] = row[i];
                }
            }
            float[] result = new float[lanes];
            for (int j = 0; j < m; j++) {
                FloatVector acc = FloatVector.zero(F);
                int xOff = j * in;
                for (int i = 0; i < in; i++) {
                    acc = FloatVector.fromArray(F, tile, i * lanes).fma(FloatVector.broadcast(F, x[xOff + i]), acc);
                }
                if (count == lanes) {
                    acc.intoArray(y, j * out + o0);
                } else {
                    acc.intoArray(result, 0);
                    System.arraycopy(result, 0, y, j * out + o0, count);
                }
            }
        });
    }

    /** {@code dx[m, in] = dy[m, out] · W} with W [out, in] in NF4; {@code dx} is overwritten. */
    public static void matmulTransposed(float[] dy, int m, Nf4Weight w, float[] dx) {
        int in = w.cols();
        int out = w.rows();
        check(dy.length == (long) m * out && dx.length == (long) m * in, "matmulTransposed", m, w);
        int tasks = (in + COLS_PER_TASK - 1) / COLS_PER_TASK;
        range(tasks, (long) m * in * out).forEach(t -> {
            int c0 = t * COLS_PER_TASK;
            int width = Math.min(COLS_PER_TASK, in - c0);
            float[] slice = new float[width];
            for (int j = 0; j < m; j++) {
                java.util.Arrays.fill(dx, j * in + c0, j * in + c0 + width, 0f);
            }
            int bound = F.loopBound(width);
            for (int o = 0; o < out; o++) {
                w.dequantize((long) o * in + c0, slice, 0, width);
                for (int j = 0; j < m; j++) {
                    float g = dy[j * out + o];
                    if (g == 0f) {
                        continue;
                    }
                    int base = j * in + c0;
                    FloatVector gv = FloatVector.broadcast(F, g);
                    int i = 0;
                    for (; i < bound; i += F.length()) {
                        FloatVector.fromArray(F, slice, i).fma(gv, FloatVector.fromArray(F, dx, base + i))
                                .intoArray(dx, base + i);
                    }
                    for (; i < width; i++) {
                        dx[base + i] += g * slice[i];
                    }
                }
            }
        });
    }

    private static IntStream range(int tasks, long work) {
        IntStream s = IntStream.range(0, tasks);
        return work >= PARALLEL_WORK ? s.parallel() : s;
    }

    private static void check(boolean ok, String op, int m, Nf4Weight w) {
        if (!ok) {
            throw new IllegalArgumentException(op + ": array sizes do not match m=" + m + " and W [" + w.rows()
                    + ", " + w.cols() + "]");
        }
    }
}
