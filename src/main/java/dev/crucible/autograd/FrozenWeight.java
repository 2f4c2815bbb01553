package dev.crucible.autograd;

import dev.crucible.tensor.Gemm;
import dev.crucible.tensor.Nf4Weight;

/**
 * A linear layer's weight W [out, in] as the LoRA op uses it: the products {@code x Wᵀ} and {@code dy W} and its
 * rows. Dense float32 for LoRA and DoRA on a float base; NF4, dequantised inside the kernels, for QLoRA.
 */
public sealed interface FrozenWeight {
    int rows();

    int cols();

    /** {@code y[n, out] = x[n, in] Wᵀ}, overwriting y. */
    void forward(float[] x, int n, float[] y);

    /** {@code dx[n, in] += dy[n, out] W}. */
    void addInputGradient(float[] dy, int n, float[] dx);

    /** Row {@code o} of W into {@code dst}. */
    void row(int o, float[] dst);

    static FrozenWeight dense(float[] w, int rows, int cols) {
        return new Dense(w, rows, cols);
    }

    static FrozenWeight nf4(Nf4Weight w) {
        return new Nf4(w);
    }

    record Dense(float[] w, int rows, int cols) implements FrozenWeight {
        @Override
        public void forward(float[] x, int n, float[] y) {
            Gemm.abT(x, w, y, n, cols, rows, false);
        }

        @Override
        public void addInputGradient(float[] dy, int n, float[] dx) {
            Gemm.ab(dy, w, dx, n, rows, cols, true);
        }

        @Override
        public void row(int o, float[] dst) {
            System.arraycopy(w, o * cols, dst, 0, cols);
        }
    }

    record Nf4(Nf4Weight w) implements FrozenWeight {
        @Override
        public int rows() {
            return w.rows();
        }

        @Override
        public int cols() {
            return w.cols();
        }

        @Override
        public void forward(float[] x, int n, float[] y) {
            Gemm.abT(x, n, w, y);
        }

        @Override
        public void addInputGradient(float[] dy, int n, float[] dx) {
            Gemm.ab(dy, n, w, dx, true);
        }

        @Override
        public void row(int o, float[] dst) {
            w.dequantize((long) o * w.cols(), dst, 0, w.cols());
        }
    }
}
