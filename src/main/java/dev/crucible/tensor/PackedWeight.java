package dev.crucible.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A weight matrix W [rows, cols] (a linear layer's [out, in]) repacked once, when a model is loaded, into the layout
 * the GEMM microkernel reads: B = Wᵀ cut into panels of {@link GemmKernel#NR} output rows, each panel stored as
 * [cols][NR] (the last one zero-padded). A product {@code x Wᵀ} then streams each panel front to back, for one
 * token (decode) as for thousands (prefill), through the same kernel, so a token gets the same bits either way.
 *
 * <p>bf16 weights stay bf16 (2 bytes per weight, off the Java heap): within each group of 2L values of a panel
 * row, value i sits in the low half of int lane i and value L + i in its high half, so one int-vector load gives
 * two float vectors by a shift and a mask. Every other dtype is widened to float32 panels once.
 *
 * <p>ggml-quantised weights ({@link #blocks}) are not repacked: they stay in their blocks, row after row, where the
 * file maps them, and {@link Gemm#linear} multiplies them with {@link GemmBlockKernel}'s dot products (blocks run
 * along W's rows, which a panel of output columns would cut across).
 */
public final class PackedWeight {
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    private static final int L = GemmKernel.L;
    private static final int NR = GemmKernel.NR;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);

    private final int rows;
    private final int cols;
    private final int panels;
    /** float32 panels, or null. */
    private final float[] floats;
    /** bf16 panels (native memory), or null. */
    private final MemorySegment halves;
    /** ggml-block matrices stacked by rows (each part's rows follow the previous part's), or null. */
    private final BlockMatrix[] blockParts;

    private PackedWeight(int rows, int cols, float[] floats, MemorySegment halves, BlockMatrix[] blockParts) {
        this.rows = rows;
        this.cols = cols;
        this.panels = (rows + NR - 1) / NR;
        this.floats = floats;
        this.halves = halves;
        this.blockParts = blockParts;
    }

    /**
     * The row-wise concatenation of ggml-block matrices (same cols; formats may differ, as llama-quantize gives v a
     * bigger type than q and k), kept in their blocks: no copy, the parts' memory must outlive the weight. Null when
     * this machine's vectors do not suit {@link GemmBlockKernel} (then dequantise and use {@link #stacked}).
     */
    public static PackedWeight blocks(BlockMatrix... parts) {
        if (!GemmBlockKernel.supported()) {
            return null;
        }
        long rows = 0;
        BlockMatrix[] kept = new BlockMatrix[parts.length];
        for (int i = 0; i < parts.length; i++) {
            BlockMatrix b = parts[i];
            if (b.cols() != parts[0].cols()) {
                throw new IllegalArgumentException("cannot stack " + b.format() + "[" + b.rows() + ", " + b.cols()
                        + "] under a matrix of " + parts[0].cols() + " columns");
            }
            rows += b.rows();
            kept[i] = new BlockMatrix(b.format(), b.rows(), b.cols(), plainNative(b.data()));
        }
        return new PackedWeight(Math.toIntExact(rows), parts[0].cols(), null, null, kept);
    }

    /**
     * A native segment ({@code reinterpret}: same address, size, scope and read-only flag) as the plain native kind,
     * mapped or not. The block kernels' loads are compiled for the segment classes they have seen: a file mapping
     * beside native copies (a GGUF's reordered q and k) made them bimorphic, every load behind a type check, and a
     * q8_0 decode step about 1.8x slower than with one kind (measured in docs/BENCHMARKS.md, GGUF decode round 6).
     */
    private static MemorySegment plainNative(MemorySegment s) {
        return s.isNative() ? s.reinterpret(s.byteSize()) : s;
    }

    /** Whether this weight is kept in ggml blocks ({@link #blocks}). */
    boolean isBlocks() {
        return blockParts != null;
    }

    /**
     * Outputs [j0, j1) of {@code out[m, rows] = x[m, cols] · Wᵀ (+ bias)} for a block weight; {@code sums} are x's
     * {@link GemmBlockKernel#subBlockSums} when a part needs them; parts the native kernels handle take x
     * {@code rounded} per 256 values (Q8_0: {@code rounded32}, per 32) instead, unless it is null (a non-finite
     * activation: the Java kernels carry it). Output row by
     * output row, each weight row stays in L1 while the m activation rows use it.
     */
    void multiplyBlocks(int j0, int j1, float[] x, int m, float[] sums, Int8Activations rounded,
                        Int8Activations rounded32, float[] bias, float[] out) {
        float[] lanes = new float[GemmBlockKernel.SCRATCH];
        int first = 0;
        for (BlockMatrix part : blockParts) {
            int from = Math.max(j0, first);
            int to = Math.min(j1, first + part.rows());
            BlockFormat f = part.format();
            Int8Activations a = NativeBlockKernels.roundingBlock(f) == 32 ? rounded32 : rounded;
            if (a != null && NativeBlockKernels.handles(f)) {
                if (from < to) {
                    NativeBlockKernels.rows(f, part.data(), (from - first) * part.rowBytes(), to - from, cols, a, m,
                            out, from, rows);
                    for (int r = 0; bias != null && r < m; r++) {
                        for (int j = from; j < to; j++) {
                            out[r * rows + j] += bias[j];
                        }
                    }
                }
                first += part.rows();
                continue;
            }
            for (int j = from; j < to; j++) {
                long off = (j - first) * part.rowBytes();
                float b = bias == null ? 0f : bias[j];
                for (int r = 0; r < m; r++) {
                    float v = GemmBlockKernel.dot(f, part.data(), off, cols, x, r * cols, sums, r * (cols / 32), lanes);
                    out[r * rows + j] = bias == null ? v : v + b;
                }
            }
            first += part.rows();
        }
    }

    /**
     * Whether a part runs on {@link NativeBlockKernels} with activations rounded per {@code block} values (then
     * {@link #multiplyBlocks} takes them so rounded).
     */
    boolean usesNativeKernels(int block) {
        for (BlockMatrix b : blockParts) {
            if (NativeBlockKernels.handles(b.format()) && NativeBlockKernels.roundingBlock(b.format()) == block) {
                return true;
            }
        }
        return false;
    }

    /**
     * Whether a part's Java kernel needs the activations' float sub-block sums: its format has minimums and it does
     * not run on {@link NativeBlockKernels} with the activations rounded per 256 ({@code rounded}), whose own sums
     * it takes.
     */
    boolean needsSubBlockSums(boolean rounded) {
        for (BlockMatrix b : blockParts) {
            if (GemmBlockKernel.needsSums(b.format()) && !(rounded && NativeBlockKernels.handles(b.format()))) {
                return true;
            }
        }
        return false;
    }

    /** Packs {@code w} [rows, cols]; bf16 panels live in {@code arena}. */
    public static PackedWeight of(Tensor w, Arena arena) {
        return stacked(arena, w);
    }

    /**
     * The row-wise concatenation of {@code parts} (same cols), packed as one matrix: q, k and v (or gate and up)
     * become one product whose outputs lie side by side, as a fused checkpoint stores them. All bf16 parts stay
     * bf16; parts of mixed dtypes (e.g. a q with an adapter folded in, in float32, beside a bf16 k) pack as float32.
     */
    public static PackedWeight stacked(Arena arena, Tensor... parts) {
        long cols = parts[0].dim(1);
        long rows = 0;
        boolean bf16 = true;
        for (Tensor t : parts) {
            if (t.rank() != 2 || t.dim(1) != cols) {
                throw new IllegalArgumentException("cannot stack " + t + " under " + parts[0]);
            }
            rows += t.dim(0);
            bf16 &= t.dtype() == DType.BF16;
        }
        int r = Math.toIntExact(rows);
        int c = Math.toIntExact(cols);
        int panels = (r + NR - 1) / NR;
        Tensor[] rowSource = new Tensor[r];
        int[] rowIndex = new int[r];
        int at = 0;
        for (Tensor t : parts) {
            for (int i = 0; i < t.dim(0); i++) {
                rowSource[at] = t;
                rowIndex[at++] = i;
            }
        }
        if (bf16) {
            MemorySegment seg = arena.allocate((long) panels * c * NR * 2, 64);
            Parallel.forEach(panels, (long) r * c, q -> packBf16(rowSource, rowIndex, q, r, c, seg));
            return new PackedWeight(r, c, null, seg, null);
        }
        float[] f = new float[Math.multiplyExact(panels * NR, c)];
        Parallel.forEach(panels, (long) r * c, q -> packFloat(rowSource, rowIndex, q, r, c, f));
        return new PackedWeight(r, c, f, null, null);
    }

    /** Short position of panel column jj within a panel row: the pair interleaving described above. */
    private static int slot(int jj) {
        int group = jj / (2 * L);
        int i = jj % (2 * L);
        return group * 2 * L + (i < L ? 2 * i : 2 * (i - L) + 1);
    }

    private static void packBf16(Tensor[] source, int[] index, int q, int rows, int cols, MemorySegment dst) {
        short[] panel = new short[cols * NR];
        short[] row = new short[cols];
        for (int jj = 0; jj < NR && q * NR + jj < rows; jj++) {
            int j = q * NR + jj;
            MemorySegment.copy(source[j].data(), SHORT, (long) index[j] * cols * 2, row, 0, cols);
            int s = slot(jj);
            for (int p = 0; p < cols; p++) {
                panel[p * NR + s] = row[p];
            }
        }
        MemorySegment.copy(panel, 0, dst, SHORT, (long) q * cols * NR * 2, panel.length);
    }

    private static void packFloat(Tensor[] source, int[] index, int q, int rows, int cols, float[] dst) {
        float[] row = new float[cols];
        int base = q * cols * NR;
        for (int jj = 0; jj < NR && q * NR + jj < rows; jj++) {
            int j = q * NR + jj;
            source[j].readFloats((long) index[j] * cols, row, 0, cols);
            for (int p = 0; p < cols; p++) {
                dst[base + p * NR + jj] = row[p];
            }
        }
    }

    /** Output features (W's rows). */
    public int rows() {
        return rows;
    }

    /** Input features (W's columns). */
    public int cols() {
        return cols;
    }

    /** Bytes of the packed panels (what one product streams). */
    public long byteSize() {
        if (blockParts != null) {
            long n = 0;
            for (BlockMatrix b : blockParts) {
                n += b.data().byteSize();
            }
            return n;
        }
        return floats != null ? 4L * floats.length : halves.byteSize();
    }

    /** This weight as the kernel's B = Wᵀ [cols, rows]. */
    GemmPanels panels() {
        if (blockParts != null) {
            throw new IllegalStateException("a block weight has no panels: Gemm.linear multiplies its blocks");
        }
        return new GemmPanels(cols, rows) {
            @Override
            void panel(int j0, int p0, int depth, View v) {
                long first = (long) (j0 / NR) * cols + p0; // panel row index of (panel, p0)
                if (floats != null) {
                    v.at(floats, (int) (first * NR), NR);
                } else {
                    float[] s = v.scratch();
                    widen(halves, first * NR * 2, depth, s, v.offset);
                }
            }

            @Override
            boolean converts() {
                return floats == null;
            }

            @Override
            boolean feedsInPlace(int rows) {
                return halves != null && rows < 4;
            }

            @Override
            void multiplyInPlace(int rows, float[] a, int aOff, int lda, int j0, int p0, int depth, float[] c,
                                 int cOff, int ldc, int width, boolean load) {
                long first = ((long) (j0 / NR) * cols + p0) * NR * 2;
                GemmKernel.rowsBf16(rows, a, aOff, lda, halves, first, depth, c, cOff, ldc, width, load);
            }
        };
    }

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    /** {@code depth} panel rows of bf16 from {@code offset} into float32 rows of NR at {@code dst[at..]}. */
    private static void widen(MemorySegment seg, long offset, int depth, float[] dst, int at) {
        for (int p = 0; p < depth; p++) {
            long o = offset + (long) p * NR * 2;
            IntVector lo = IntVector.fromMemorySegment(I, seg, o, LE);
            IntVector hi = IntVector.fromMemorySegment(I, seg, o + 4L * L, LE);
            int d = at + p * NR;
            lo.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, d);
            lo.and(0xFFFF0000).reinterpretAsFloats().intoArray(dst, d + L);
            hi.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, d + 2 * L);
            hi.and(0xFFFF0000).reinterpretAsFloats().intoArray(dst, d + 3 * L);
        }
    }

    /** W as a float32 row-major [rows, cols] array (for tests and checks; unpacks every panel). */
    public float[] toFloats() {
        float[] out = new float[rows * cols];
        GemmPanels.View v = new GemmPanels.View();
        GemmPanels b = panels();
        for (int j0 = 0; j0 < rows; j0 += NR) {
            for (int p0 = 0; p0 < cols; p0 += Gemm.KC) {
                int depth = Math.min(Gemm.KC, cols - p0);
                b.panel(j0, p0, depth, v);
                for (int p = 0; p < depth; p++) {
                    for (int jj = 0; jj < NR && j0 + jj < rows; jj++) {
                        out[(j0 + jj) * cols + p0 + p] = v.array[v.offset + p * v.stride + jj];
                    }
                }
            }
        }
        return out;
    }
}
