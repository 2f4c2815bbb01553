package dev.crucible.gguf;

import java.util.HashMap;
import java.util.Map;

/**
 * The tensor types of ggml (the {@code ggml_type} ids a GGUF tensor info stores), with their block geometry: a
 * block of {@link #blockSize} values takes {@link #typeSize} bytes. Crucible writes and reads the float types and
 * the quantised types it has {@link BlockQuant}s for; the others are known by name so that a file holding them
 * can be inspected and refused clearly.
 */
public enum GgmlType {
    F32(0, 1, 4), F16(1, 1, 2), Q4_0(2, 32, 18), Q4_1(3, 32, 20), Q5_0(6, 32, 22), Q5_1(7, 32, 24),
    Q8_0(8, 32, 34), Q8_1(9, 32, 40), Q2_K(10, 256, 84), Q3_K(11, 256, 110), Q4_K(12, 256, 144),
    Q5_K(13, 256, 176), Q6_K(14, 256, 210), Q8_K(15, 256, 292), IQ2_XXS(16, 256, 66), IQ2_XS(17, 256, 74),
    IQ3_XXS(18, 256, 98), IQ1_S(19, 256, 50), IQ4_NL(20, 32, 18), IQ3_S(21, 256, 110), IQ2_S(22, 256, 82),
    IQ4_XS(23, 256, 136), I8(24, 1, 1), I16(25, 1, 2), I32(26, 1, 4), I64(27, 1, 8), F64(28, 1, 8),
    IQ1_M(29, 256, 56), BF16(30, 1, 2), TQ1_0(34, 256, 54), TQ2_0(35, 256, 66), MXFP4(39, 32, 17),
    NVFP4(40, 64, 36), Q1_0(41, 128, 18), Q2_0(42, 64, 18);

    private static final Map<Integer, GgmlType> BY_ID = new HashMap<>();

    static {
        for (GgmlType t : values()) {
            BY_ID.put(t.id, t);
        }
    }

    public final int id;
    public final int blockSize;
    public final int typeSize;

    GgmlType(int id, int blockSize, int typeSize) {
        this.id = id;
        this.blockSize = blockSize;
        this.typeSize = typeSize;
    }

    /** The type of a ggml id, or null for an id this version does not know. */
    public static GgmlType byId(long id) {
        return id < 0 || id > Integer.MAX_VALUE ? null : BY_ID.get((int) id);
    }

    public boolean isQuantized() {
        return blockSize > 1;
    }

    /** Bytes of one row of {@code n} values; {@code n} must be a multiple of the block size. */
    public long rowBytes(long n) {
        return n / blockSize * typeSize;
    }

    /** Bytes of a tensor of {@code elements} values (a multiple of the block size). */
    public long bytes(long elements) {
        return elements / blockSize * typeSize;
    }
}
