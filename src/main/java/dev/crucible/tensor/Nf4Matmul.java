package dev.crucible.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.stream.IntStream;

/**
 * Matrix products with an NF4 weight that never materialise the float32 matrix: each task dequantises a few
 * rows (or a column slice) into a small buffer that stays in cache and runs Vector API FMAs against it. This is
 * the QLoRA linear layer's forward ({@code x W^T}) and its input gradient ({@code dy W}).
 */
public final class Nf4Matmul {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int ROWS_PER_TASK = 4;
    private static final int COLS_PER_TASK = 256;

    private Nf4Matmul() {
    }

    /** {@code y[m, out] = x[m, in] · W^T} with W [out, in] in NF4; {@code y} is overwritten. */
    public static void matmul(float[] x, int m, Nf4Weight w, float[] y) {
        int in = w.cols();
        int out = w.rows();
        check(x.length == (long) m * in && y.length == (long) m * out, "matmul", m, w);
        int tasks = (out + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
        IntStream.range(0, tasks).parallel().forEach(t -> {
            int o0 = t * ROWS_PER_TASK;
            int count = Math.min(ROWS_PER_TASK, out - o0);
            float[] rows = new float[ROWS_PER_TASK * in];
            w.dequantize((long) o0 * in, rows, 0, count * in);
            for (int j = 0; j < m; j++) {
                dot4(x, j * in, rows, in, y, j * out + o0, count);
            }
        });
    }

    /** Four dot products of one x row with up to four dequantised W rows, sharing each load of x. */
    private static void dot4(float[] x, int xOff, float[] rows, int in, float[] y, int yOff, int count) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        int bound = F.loopBound(in);
        int i = 0;
        for (; i < bound; i += F.length()) {
            FloatVector xv = FloatVector.fromArray(F, x, xOff + i);
            a0 = FloatVector.fromArray(F, rows, i).fma(xv, a0);
            a1 = FloatVector.fromArray(F, rows, in + i).fma(xv, a1);
            a2 = FloatVector.fromArray(F, rows, 2 * in + i).fma(xv, a2);
            a3 = FloatVector.fromArray(F, rows, 3 * in + i).fma(xv, a3);
        }
        float[] sums = {a0.reduceLanes(VectorOperators.ADD), a1.reduceLanes(VectorOperators.ADD),
                a2.reduceLanes(VectorOperators.ADD), a3.reduceLanes(VectorOperators.ADD)};
        for (; i < in; i++) {
            float xv = x[xOff + i];
            for (int r = 0; r < ROWS_PER_TASK; r++) {
                sums[r] += rows[r * in + i] * xv;
            }
        }
        System.arraycopy(sums, 0, y, yOff, count);
    }

    /** {@code dx[m, in] = dy[m, out] · W} with W [out, in] in NF4; {@code dx} is overwritten. */
    public static void matmulTransposed(float[] dy, int m, Nf4Weight w, float[] dx) {
        int in = w.cols();
        int out = w.rows();
        check(dy.length == (long) m * out && dx.length == (long) m * in, "matmulTransposed", m, w);
        int tasks = (in + COLS_PER_TASK - 1) / COLS_PER_TASK;
        IntStream.range(0, tasks).parallel().forEach(t -> {
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

    private static void check(boolean ok, String op, int m, Nf4Weight w) {
        if (!ok) {
            throw new IllegalArgumentException(op + ": array sizes do not match m=" + m + " and W [" + w.rows()
                    + ", " + w.cols() + "]");
        }
    }
}
