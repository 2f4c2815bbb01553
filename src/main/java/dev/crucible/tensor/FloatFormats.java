package dev.crucible.tensor;

/**
 * Bit-level conversions between float32 and the narrow float formats. Every narrowing conversion rounds
 * to nearest, ties to even, as torch does.
 */
public final class FloatFormats {
    private FloatFormats() {
    }

    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    public static short floatToBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if ((bits & 0x7FFFFFFF) > 0x7F800000) {
            return (short) ((bits >>> 16) | 0x0040); // quiet NaN, sign kept
        }
        int rounding = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    /** Rounds a float32 to the nearest bf16 value and returns it as a float32. */
    public static float roundToBf16(float value) {
        return bf16ToFloat(floatToBf16(value));
    }

    public static float f16ToFloat(short bits) {
        return Float.float16ToFloat(bits);
    }

    public static short floatToF16(float value) {
        return Float.floatToFloat16(value);
    }

    /** Rounds a float32 to the nearest float16 value and returns it as a float32. */
    public static float roundToF16(float value) {
        return Float.float16ToFloat(Float.floatToFloat16(value));
    }

    // float8 e5m2 is the upper byte of a float16.
    public static float f8e5m2ToFloat(byte bits) {
        return Float.float16ToFloat((short) ((bits & 0xFF) << 8));
    }

    /**
     * Nearest e5m2 value, ties to even, rounding straight from float32 (not through float16, which would
     * round twice); magnitudes from 61440 up become infinity and NaN stays NaN, as in torch.
     */
    public static byte floatToF8e5m2(float value) {
        int sign = (Float.floatToRawIntBits(value) >>> 24) & 0x80;
        if (Float.isNaN(value)) {
            return (byte) (sign | 0x7F);
        }
        return (byte) (sign | roundToNarrow(Math.abs(value), 2, 15, 0x7C));
    }

    private static final float[] E4M3_VALUES = new float[256];

    static {
        for (int b = 0; b < 256; b++) {
            int sign = (b >>> 7) & 1;
            int exp = (b >>> 3) & 0xF;
            int mant = b & 0x7;
            float v;
            if (exp == 0xF && mant == 0x7) {
                v = Float.NaN; // e4m3fn has no infinities; S.1111.111 is NaN
            } else if (exp == 0) {
                v = mant / 8f * 0x1p-6f;
            } else {
                v = (1 + mant / 8f) * (float) Math.pow(2, exp - 7);
            }
            E4M3_VALUES[b] = sign == 1 ? -v : v;
        }
    }

    public static float f8e4m3ToFloat(byte bits) {
        return E4M3_VALUES[bits & 0xFF];
    }

    /** Nearest e4m3fn value, ties to even mantissa; magnitudes past the largest finite (448) saturate. */
    public static byte floatToF8e4m3(float value) {
        if (Float.isNaN(value)) {
            return (byte) 0x7F;
        }
        int sign = (Float.floatToRawIntBits(value) >>> 24) & 0x80;
        return (byte) (sign | roundToNarrow(Math.abs(value), 3, 7, 0x7E));
    }

    /**
     * The code of the narrow float nearest to {@code a >= 0} (ties to even) for a format with
     * {@code mantBits} mantissa bits and exponent {@code bias}; codes above {@code maxCode} become maxCode.
     */
    private static int roundToNarrow(float a, int mantBits, int bias, int maxCode) {
        int minNormalExp = 1 - bias;
        if (a < Math.scalb(1f, minNormalExp)) {
            // Subnormals are multiples of the smallest step; rint rounds ties to even, and the step count
            // 2^mantBits lands exactly on the code of the smallest normal.
            return (int) Math.rint(Math.scalb((double) a, mantBits - minNormalExp));
        }
        int shift = 23 - mantBits;
        int bits = Float.floatToRawIntBits(a);
        bits += (1 << (shift - 1)) - 1 + ((bits >>> shift) & 1);
        long code = (bits >>> shift) - ((long) (127 - bias) << mantBits);
        return (int) Math.min(code, maxCode);
    }
}
