package dev.crucible.tensor;

/**
 * ggml's quantised block formats that {@link Gemm} multiplies without dequantising: a block of {@link #blockSize}
 * consecutive values of a weight row takes {@link #typeSize} bytes (a float16 scale, sometimes a minimum and
 * sub-block scales, then the packed integers). The byte layouts are ggml's ({@code block_q8_0}, {@code block_q4_K},
 * ... in ggml-common.h); the kernels are {@link GemmBlockKernel}'s. Formats without a kernel here (Q2_K, Q3_K, the
 * IQ types) are dequantised to float32 by their reader.
 */
public enum BlockFormat {
    /** 32 values: f16 d, 16 bytes of 4-bit q (value j low nibble, j + 16 high); value (q - 8)·d. */
    Q4_0(32, 18),
    /** Q4_0 with a minimum: f16 d, f16 m, 16 bytes of 4-bit q; value q·d + m. */
    Q4_1(32, 20),
    /** 32 values: f16 d, 32 fifth bits (bit j: value j), 16 bytes of 4-bit q as Q4_0; value (q - 16)·d. */
    Q5_0(32, 22),
    /** Q5_0 with a minimum: f16 d, f16 m, 32 fifth bits, 16 bytes of 4-bit q; value q·d + m. */
    Q5_1(32, 24),
    /** 32 values: f16 d, 32 signed bytes q; value q·d. */
    Q8_0(32, 34),
    /**
     * 256 values in 8 sub-blocks of 32: f16 d, f16 dmin, 12 bytes of 6-bit sub-block scales and mins, 128 bytes of
     * 4-bit q (each 64 values: 32 bytes, low nibbles the first sub-block, high the second); value d·sc·q − dmin·m.
     */
    Q4_K(256, 144),
    /** Q4_K with a fifth bit per value: f16 d, f16 dmin, 12 bytes of scales, 32 bytes of high bits, 128 of 4-bit q. */
    Q5_K(256, 176),
    /**
     * 256 values in 16 sub-blocks of 16: 128 bytes of low 4 bits, 64 of high 2 bits, 16 signed 8-bit scales, f16 d;
     * value d·sc·(q − 32).
     */
    Q6_K(256, 210);

    public final int blockSize;
    public final int typeSize;

    BlockFormat(int blockSize, int typeSize) {
        this.blockSize = blockSize;
        this.typeSize = typeSize;
    }

    /** Bytes of one row of {@code cols} values (a multiple of the block size). */
    public long rowBytes(long cols) {
        return cols / blockSize * typeSize;
    }

    /** The format of a ggml type name ({@code "Q8_0"}, ...), or null when {@link Gemm} has no kernel for it. */
    public static BlockFormat ofGgmlName(String name) {
        for (BlockFormat f : values()) {
            if (f.name().equals(name)) {
                return f;
            }
        }
        return null;
    }
}
