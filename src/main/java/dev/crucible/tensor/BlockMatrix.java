package dev.crucible.tensor;

import java.lang.foreign.MemorySegment;

/**
 * A weight matrix W [rows, cols] stored as ggml blocks, row after row ({@code rows · format.rowBytes(cols)} bytes):
 * a GGUF file's quantised tensor, mapped in place. {@link PackedWeight#blocks} keeps it so, and {@link Gemm}
 * multiplies it block by block, never as float32.
 */
public record BlockMatrix(BlockFormat format, int rows, int cols, MemorySegment data) {
    public BlockMatrix {
        if (rows < 0 || cols < 0 || cols % format.blockSize != 0) {
            throw new IllegalArgumentException(format + " matrix [" + rows + ", " + cols + "]: rows must be whole blocks of "
                    + format.blockSize);
        }
        if (data.byteSize() != rows * format.rowBytes(cols)) {
            throw new IllegalArgumentException(format + " matrix [" + rows + ", " + cols + "] needs "
                    + rows * format.rowBytes(cols) + " bytes, segment has " + data.byteSize());
        }
    }

    /** Bytes of one row. */
    public long rowBytes() {
        return format.rowBytes(cols);
    }
}
