package dev.crucible.tensor;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;
import java.util.function.IntFunction;
import java.util.function.ToIntFunction;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FloatFormatsTest {
    private static int bf16(float f) {
        return FloatFormats.floatToBf16(f) & 0xFFFF;
    }

    private static int bf16(int floatBits) {
        return bf16(Float.intBitsToFloat(floatBits));
    }

    @Test
    void bf16RoundsToNearestWithTiesToEven() {
        assertEquals(0x3F80, bf16(0x3F808000)); // 1 + 2^-8: halfway, 0x3F80 is even
        assertEquals(0x3F82, bf16(0x3F818000)); // halfway between 0x3F81 (odd) and 0x3F82
        assertEquals(0x3F81, bf16(0x3F808001)); // just past halfway
        assertEquals(0x3F80, bf16(0x3F807FFF)); // just below halfway
        assertEquals(0xBF82, bf16(0xBF818000)); // negative ties too
        assertEquals(0x7F80, bf16(Float.MAX_VALUE)); // past the largest bf16: infinity, as torch
        assertEquals(0x7F7F, bf16(0x7F7F7FFF));
    }

    @Test
    void bf16KeepsInfinitiesNansAndSignedZeros() {
        assertEquals(0x7F80, bf16(Float.POSITIVE_INFINITY));
        assertEquals(0xFF80, bf16(Float.NEGATIVE_INFINITY));
        assertEquals(0x0000, bf16(0f));
        assertEquals(0x8000, bf16(-0f));
        // a NaN whose payload lies only in the dropped bits must not become infinity
        assertTrue(Float.isNaN(FloatFormats.bf16ToFloat(FloatFormats.floatToBf16(Float.intBitsToFloat(0x7F800001)))));
        assertEquals(0xFFC0, bf16(0xFF800001)); // quiet NaN, sign kept
        assertTrue(Float.isNaN(FloatFormats.roundToBf16(Float.NaN)));
    }

    @Test
    void bf16Subnormals() {
        assertEquals(0x0000, bf16(0x00008000)); // tie to even zero
        assertEquals(0x0002, bf16(0x00018000)); // tie to even 2
        assertEquals(0x0001, bf16(0x00010000)); // exact
        assertEquals(0x0000, bf16(0x00000001)); // smallest float subnormal rounds to zero
        assertEquals(0x8000, bf16(0x80000001));
        assertEquals(Float.intBitsToFloat(0x00010000), FloatFormats.bf16ToFloat((short) 1));
    }

    @Test
    void everyBf16CodeRoundTrips() {
        for (int c = 0; c < 0x10000; c++) {
            float f = FloatFormats.bf16ToFloat((short) c);
            if (Float.isNaN(f)) {
                assertTrue(Float.isNaN(FloatFormats.bf16ToFloat(FloatFormats.floatToBf16(f))));
            } else {
                assertEquals(c, bf16(f), Integer.toHexString(c));
            }
        }
    }

    @Test
    void bf16IsTheNearestValueForRandomFloats() {
        SplittableRandom r = new SplittableRandom(7);
        for (int i = 0; i < 200_000; i++) {
            int bits = r.nextInt();
            float f = Float.intBitsToFloat(bits);
            if (Float.isNaN(f) || Float.isInfinite(f)) {
                continue;
            }
            // independent reference: the two candidates around f, compared in double
            int lo = bits >>> 16;
            int hi = lo + 1;
            double dl = Math.abs(Float.intBitsToFloat(lo << 16) - (double) f);
            // past the largest bf16 the next step up is 2^128, which rounds to infinity
            double hiValue = (hi & 0x7FFF) == 0x7F80 ? Math.copySign(0x1p128, f) : Float.intBitsToFloat(hi << 16);
            double dh = Math.abs(hiValue - (double) f);
            int expected = dl < dh || (dl == dh && (lo & 1) == 0) ? lo : hi;
            assertEquals(expected & 0xFFFF, bf16(f), Integer.toHexString(bits));
        }
    }

    @Test
    void f16RoundsToNearestEvenWithSubnormalsAndOverflow() {
        assertEquals(1f, FloatFormats.roundToF16(1f + 0x1p-11f)); // tie to even
        assertEquals(1f + 0x1p-9f, FloatFormats.roundToF16(1f + 3 * 0x1p-11f)); // tie, odd below
        assertEquals(65504f, FloatFormats.roundToF16(65519f));
        assertEquals(Float.POSITIVE_INFINITY, FloatFormats.roundToF16(65520f)); // tie above the max: infinity
        assertEquals(0f, FloatFormats.roundToF16(0x1p-25f)); // half the smallest subnormal: tie to zero
        assertEquals(0x1p-23f, FloatFormats.roundToF16(3 * 0x1p-25f));
        assertEquals(0x1p-24f, FloatFormats.f16ToFloat((short) 1));
        assertEquals(Float.NEGATIVE_INFINITY, FloatFormats.f16ToFloat((short) 0xFC00));
        assertTrue(Float.isNaN(FloatFormats.f16ToFloat(FloatFormats.floatToF16(Float.NaN))));
        for (int c = 0; c < 0x10000; c++) {
            float f = FloatFormats.f16ToFloat((short) c);
            if (!Float.isNaN(f)) {
                assertEquals(c, FloatFormats.floatToF16(f) & 0xFFFF);
            }
        }
    }

    @Test
    void e4m3DecodeTable() {
        assertEquals(0f, FloatFormats.f8e4m3ToFloat((byte) 0x00));
        assertEquals(-0f, FloatFormats.f8e4m3ToFloat((byte) 0x80));
        assertEquals(0x1p-9f, FloatFormats.f8e4m3ToFloat((byte) 0x01)); // smallest subnormal
        assertEquals(7 * 0x1p-9f, FloatFormats.f8e4m3ToFloat((byte) 0x07)); // largest subnormal
        assertEquals(0x1p-6f, FloatFormats.f8e4m3ToFloat((byte) 0x08)); // smallest normal
        assertEquals(1f, FloatFormats.f8e4m3ToFloat((byte) 0x38));
        assertEquals(1.125f, FloatFormats.f8e4m3ToFloat((byte) 0x39));
        assertEquals(-2f, FloatFormats.f8e4m3ToFloat((byte) 0xC0));
        assertEquals(448f, FloatFormats.f8e4m3ToFloat((byte) 0x7E)); // largest finite
        assertTrue(Float.isNaN(FloatFormats.f8e4m3ToFloat((byte) 0x7F)));
        assertTrue(Float.isNaN(FloatFormats.f8e4m3ToFloat((byte) 0xFF)));
        assertEquals(240f, FloatFormats.f8e4m3ToFloat((byte) 0x77)); // 0 1110 111 = 1.875 * 2^7
    }

    @Test
    void e5m2DecodeTable() {
        assertEquals(0x1p-16f, FloatFormats.f8e5m2ToFloat((byte) 0x01));
        assertEquals(0x1p-14f, FloatFormats.f8e5m2ToFloat((byte) 0x04));
        assertEquals(1f, FloatFormats.f8e5m2ToFloat((byte) 0x3C));
        assertEquals(1.25f, FloatFormats.f8e5m2ToFloat((byte) 0x3D));
        assertEquals(-1.75f, FloatFormats.f8e5m2ToFloat((byte) 0xBF));
        assertEquals(57344f, FloatFormats.f8e5m2ToFloat((byte) 0x7B));
        assertEquals(Float.POSITIVE_INFINITY, FloatFormats.f8e5m2ToFloat((byte) 0x7C));
        assertEquals(Float.NEGATIVE_INFINITY, FloatFormats.f8e5m2ToFloat((byte) 0xFC));
        for (int c = 0x7D; c <= 0x7F; c++) {
            assertTrue(Float.isNaN(FloatFormats.f8e5m2ToFloat((byte) c)));
        }
    }

    @Test
    void everyF8CodeRoundTrips() {
        for (int c = 0; c < 256; c++) {
            float e4 = FloatFormats.f8e4m3ToFloat((byte) c);
            float e5 = FloatFormats.f8e5m2ToFloat((byte) c);
            if (Float.isNaN(e4)) {
                assertTrue(Float.isNaN(FloatFormats.f8e4m3ToFloat(FloatFormats.floatToF8e4m3(e4))));
            } else {
                assertEquals(c, FloatFormats.floatToF8e4m3(e4) & 0xFF, "e4m3 " + Integer.toHexString(c));
            }
            if (Float.isNaN(e5)) {
                assertTrue(Float.isNaN(FloatFormats.f8e5m2ToFloat(FloatFormats.floatToF8e5m2(e5))));
            } else {
                assertEquals(c, FloatFormats.floatToF8e5m2(e5) & 0xFF, "e5m2 " + Integer.toHexString(c));
            }
        }
    }

    @Test
    void e5m2RoundsOnceNotThroughFloat16() {
        // 1.125 is halfway between 1.0 (0x3C) and 1.25 (0x3D); a hair above it must round up. Going through
        // float16 first would land exactly on 1.125 and then tie to the even 1.0.
        assertEquals(0x3D, FloatFormats.floatToF8e5m2(1.125f + 0x1p-20f));
        assertEquals(0x3C, FloatFormats.floatToF8e5m2(1.125f));
        assertEquals(0x7B, FloatFormats.floatToF8e5m2(61439f));
        assertEquals(0x7C, FloatFormats.floatToF8e5m2(61440f)); // tie above the largest finite: infinity
        assertEquals((byte) 0xFC, FloatFormats.floatToF8e5m2(Float.NEGATIVE_INFINITY));
        assertEquals((byte) 0x80, FloatFormats.floatToF8e5m2(-0f));
    }

    @Test
    void e4m3SaturatesAndKeepsSign() {
        assertEquals(0x7E, FloatFormats.floatToF8e4m3(1000f));
        assertEquals(0x7E, FloatFormats.floatToF8e4m3(Float.POSITIVE_INFINITY));
        assertEquals((byte) 0xFE, FloatFormats.floatToF8e4m3(-500f));
        assertEquals((byte) 0x80, FloatFormats.floatToF8e4m3(-0f));
        assertEquals(0x00, FloatFormats.floatToF8e4m3(0x1p-11f)); // a quarter of the smallest subnormal
    }

    @Test
    void f8EncodersPickTheNearestCodeLikeABruteForceSearch() {
        checkNearest(b -> FloatFormats.f8e4m3ToFloat((byte) b), f -> FloatFormats.floatToF8e4m3(f) & 0xFF, 448f);
        checkNearest(b -> FloatFormats.f8e5m2ToFloat((byte) b), f -> FloatFormats.floatToF8e5m2(f) & 0xFF, 57344f);
    }

    /** Every midpoint between neighbouring codes (and one ulp either side) plus random values in range. */
    private static void checkNearest(IntFunction<Float> decode, ToIntFunction<Float> encode, float max) {
        SplittableRandom r = new SplittableRandom(3);
        for (int c = 0; c < 0x7F; c++) {
            float lo = decode.apply(c);
            float hi = decode.apply(c + 1);
            if (Float.isNaN(hi) || Float.isInfinite(hi)) {
                continue;
            }
            float mid = (lo + hi) / 2; // exact: both are narrow floats
            for (float f : new float[] {lo, mid, Math.nextDown(mid), Math.nextUp(mid), hi}) {
                assertEquals(bruteForce(decode, f), encode.applyAsInt(f), "value " + f);
                assertEquals(bruteForce(decode, -f), encode.applyAsInt(-f), "value " + -f);
            }
        }
        for (int i = 0; i < 20_000; i++) {
            float f = (float) (r.nextDouble(-1, 1) * max * Math.pow(2, -r.nextInt(20)));
            assertEquals(bruteForce(decode, f), encode.applyAsInt(f), "value " + f);
        }
    }

    private static int bruteForce(IntFunction<Float> decode, float f) {
        int sign = (Float.floatToRawIntBits(f) >>> 24) & 0x80;
        float a = Math.abs(f);
        int best = 0;
        double bestErr = Double.POSITIVE_INFINITY;
        for (int b = 0; b < 0x7F; b++) {
            float v = decode.apply(b);
            if (Float.isNaN(v) || Float.isInfinite(v)) {
                continue;
            }
            double err = Math.abs((double) v - a);
            if (err < bestErr || (err == bestErr && (b & 1) == 0)) {
                best = b;
                bestErr = err;
            }
        }
        return best | sign;
    }
}
