package dev.crucible.gguf;

import dev.crucible.tensor.DType;
import dev.crucible.tensor.Tensor;

import java.util.List;

/**
 * The float32 rows of a tensor about to be written, produced on demand so that export streams: a checkpoint
 * tensor read in place, or the converter's row-wise transformations of one (llama's rotary permutation of q and
 * k, Gemma's norm + 1, experts stacked into one tensor, constants it computes). A row is the last dimension.
 */
interface Rows {
    /** Values per row. */
    int rowLength();

    long rows();

    /** Reads {@code count} rows from {@code row} into {@code dst} at {@code off}. */
    void read(long row, int count, float[] dst, int off);

    /** Rows of a checkpoint tensor (any float dtype) with last dimension as the row. */
    static Rows of(Tensor t) {
        long[] s = t.shape();
        int len = s.length == 0 ? 1 : (int) s[s.length - 1];
        long rows = t.numel() / Math.max(1, len);
        return new Rows() {
            @Override
            public int rowLength() {
                return len;
            }

            @Override
            public long rows() {
                return rows;
            }

            @Override
            public void read(long row, int count, float[] dst, int off) {
                t.readFloats(row * len, dst, off, count * len);
            }
        };
    }

    /** Rows {@code first .. first + count} of {@code src}. */
    static Rows slice(Rows src, long first, long count) {
        return new Rows() {
            @Override
            public int rowLength() {
                return src.rowLength();
            }

            @Override
            public long rows() {
                return count;
            }

            @Override
            public void read(long row, int n, float[] dst, int off) {
                src.read(first + row, n, dst, off);
            }
        };
    }

    /** Constant values, one row. */
    static Rows constant(float[] values) {
        return new Rows() {
            @Override
            public int rowLength() {
                return values.length;
            }

            @Override
            public long rows() {
                return 1;
            }

            @Override
            public void read(long row, int count, float[] dst, int off) {
                System.arraycopy(values, 0, dst, off, values.length);
            }
        };
    }

    /**
     * llama's permute for rotary q/k: {@code w.reshape(heads, 2, rows / heads / 2, ...).swapaxes(1, 2)}, which
     * moves output row (h, i, j) to take input row (h, j, i).
     */
    static Rows permuted(Rows src, int heads) {
        long rows = src.rows();
        long half = rows / heads / 2;
        return new Rows() {
            @Override
            public int rowLength() {
                return src.rowLength();
            }

            @Override
            public long rows() {
                return rows;
            }

            @Override
            public void read(long row, int count, float[] dst, int off) {
                int len = src.rowLength();
                for (int k = 0; k < count; k++) {
                    long r = row + k;
                    long h = r / (2 * half);
                    long rem = r % (2 * half);
                    long i = rem / 2;
                    long j = rem % 2;
                    src.read(h * 2 * half + j * half + i, 1, dst, off + k * len);
                }
            }
        };
    }

    /** The same permutation on the elements of a 1-D tensor (a q or k bias). */
    static Rows permutedVector(Rows src, int heads) {
        int n = src.rowLength();
        int half = n / heads / 2;
        return new Rows() {
            @Override
            public int rowLength() {
                return n;
            }

            @Override
            public long rows() {
                return 1;
            }

            @Override
            public void read(long row, int count, float[] dst, int off) {
                float[] v = new float[n];
                src.read(0, 1, v, 0);
                for (int r = 0; r < n; r++) {
                    int h = r / (2 * half);
                    int rem = r % (2 * half);
                    dst[off + r] = v[h * 2 * half + (rem % 2) * half + rem / 2];
                }
            }
        };
    }

    /** Gemma's norm weights as llama.cpp stores them: w + 1, in the source's precision (float16 stays float16). */
    static Rows plusOne(Rows src, DType sourceDtype) {
        boolean f16 = sourceDtype == DType.F16;
        return new Rows() {
            @Override
            public int rowLength() {
                return src.rowLength();
            }

            @Override
            public long rows() {
                return src.rows();
            }

            @Override
            public void read(long row, int count, float[] dst, int off) {
                src.read(row, count, dst, off);
                for (int i = off; i < off + count * src.rowLength(); i++) {
                    float v = dst[i] + 1;
                    dst[i] = f16 ? Float.float16ToFloat(Float.floatToFloat16(v)) : v;
                }
            }
        };
    }

    /** Tensors of equal shape stacked on a new leading dimension (Mixtral's experts). */
    static Rows stacked(List<Rows> parts) {
        long each = parts.getFirst().rows();
        return new Rows() {
            @Override
            public int rowLength() {
                return parts.getFirst().rowLength();
            }

            @Override
            public long rows() {
                return each * parts.size();
            }

            @Override
            public void read(long row, int count, float[] dst, int off) {
                int len = rowLength();
                int done = 0;
                while (done < count) {
                    long r = row + done;
                    int part = (int) (r / each);
                    long inPart = r % each;
                    int n = (int) Math.min(count - done, each - inPart);
                    parts.get(part).read(inPart, n, dst, off + done * len);
                    done += n;
                }
            }
        };
    }
}
