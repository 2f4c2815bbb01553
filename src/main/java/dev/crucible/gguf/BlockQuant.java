package dev.crucible.gguf;

import java.util.EnumMap;
import java.util.Map;

/**
 * One quantised block format of ggml: rows of float32 to blocks and back. Quantisation is a bit-exact port of
 * ggml's reference quantisation ({@code quantize_row_*_ref} in ggml-quants.c, what {@code llama-quantize} runs
 * without an importance matrix): the same float32 operations in the same order, no fused multiply-add, C's
 * rounding and integer conversions, so the blocks are byte-identical to llama.cpp's. Dequantisation follows
 * ggml's {@code dequantize_row_*}.
 */
public abstract class BlockQuant {
    private static final Map<GgmlType, BlockQuant> ALL = new EnumMap<>(GgmlType.class);

    static {
        for (BlockQuant q : new BlockQuant[] {new LegacyQuants.Q4_0(), new LegacyQuants.Q4_1(), new LegacyQuants.Q5_0(),
                new LegacyQuants.Q5_1(), new LegacyQuants.Q8_0(), new KQuants.Q2_K(), new KQuants.Q3_K(),
                new KQuants.Q4_K(), new KQuants.Q5_K(), new KQuants.Q6_K()}) {
            ALL.put(q.type(), q);
        }
    }

    /** The codec of {@code type}, or null when Crucible has none (float types included). */
    public static BlockQuant of(GgmlType type) {
        return ALL.get(type);
    }

    public abstract GgmlType type();

    /** Whether {@link #quantize} is implemented (some formats are only read). */
    public boolean canQuantize() {
        return true;
    }

    /** Quantises {@code n} values (whole blocks) of {@code x} from {@code off} into {@code dst} at {@code dstOff}. */
    public abstract void quantize(float[] x, int off, int n, byte[] dst, int dstOff);

    /** Dequantises {@code n} values (whole blocks) from {@code src} at {@code srcOff} into {@code y} at {@code off}. */
    public abstract void dequantize(byte[] src, int srcOff, float[] y, int off, int n);

    /** A format Crucible reads (dequantises) but does not write. */
    abstract static class ReadOnly extends BlockQuant {
        @Override
        public boolean canQuantize() {
            return false;
        }

        @Override
        public void quantize(float[] x, int off, int n, byte[] dst, int dstOff) {
            throw new UnsupportedOperationException(type() + " quantisation");
        }
    }

    // ------------------------------------------------------------------------- helpers shared by the formats

    static float half(byte[] b, int i) {
        return Float.float16ToFloat((short) ((b[i] & 0xFF) | (b[i + 1] << 8)));
    }

    /** Stores ggml's GGML_FP32_TO_FP16: round to nearest even. */
    static void putHalf(byte[] b, int i, float v) {
        short h = Float.floatToFloat16(v);
        b[i] = (byte) h;
        b[i + 1] = (byte) (h >> 8);
    }

    /** The float16-rounded value ggml reads back with GGML_FP16_TO_FP32. */
    static float roundHalf(float v) {
        return Float.float16ToFloat(Float.floatToFloat16(v));
    }

    /**
     * C's roundf to an int, half away from zero, for |x| < 2^23 (the quantisers' range). Integer part and fraction
     * are exact in float there; adding 0.5 first would round 0.49999997 up.
     */
    static int roundf(float x) {
        float a = Math.abs(x);
        int i = (int) a;
        if (a - i >= 0.5f) {
            i++;
        }
        return x < 0 ? -i : i;
    }

    /** ggml's nearest_int: adds 1.5 * 2^23 so the float's mantissa holds the rounded integer (ties to even). */
    static int nearestInt(float v) {
        int i = Float.floatToRawIntBits(v + 12582912f);
        return (i & 0x007fffff) - 0x00400000;
    }

    /** C's fmaxf-free MAX(a, b) = a > b ? a : b. */
    static float max(float a, float b) {
        return a > b ? a : b;
    }
}
