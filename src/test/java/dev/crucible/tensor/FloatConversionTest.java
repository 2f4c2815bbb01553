package dev.crucible.tensor;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The bulk (vectorised) conversions give exactly the bits of the scalar ones, at every offset and length. */
class FloatConversionTest {
    private static final ValueLayout.OfShort LE_SHORT =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Random bits with the special values mixed in: NaNs (quiet, signalling, negative), infinities, zeros, subnormals. */
    private static int interestingBits(SplittableRandom r) {
        return switch (r.nextInt(8)) {
            case 0 -> new int[] {0x7FC00000, 0x7F800001, 0xFFFFFFFF, 0x7F800000, 0xFF800000, 0, 0x80000000,
                    0x00008000, 0x00018000, 0x3F808000, 0x3F818000, 0x7F7FFFFF}[r.nextInt(12)];
            case 1 -> r.nextInt() & 0x807FFFFF; // subnormal
            default -> r.nextInt();
        };
    }

    @Test
    void bf16ReadMatchesScalarDecodeAtEveryOffsetAndLength() {
        SplittableRandom r = new SplittableRandom(11);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(2 * 300);
            for (int i = 0; i < 300; i++) {
                seg.set(LE_SHORT, 2L * i, (short) r.nextInt());
            }
            Tensor t = new Tensor(DType.BF16, new long[] {300}, seg);
            for (int from = 0; from < 40; from += 3) {
                for (int count = 0; count <= 260; count += 7) {
                    float[] dst = new float[count + 5];
                    t.readFloats(from, dst, 5, count);
                    for (int i = 0; i < count; i++) {
                        float expected = FloatFormats.bf16ToFloat(seg.get(LE_SHORT, 2L * (from + i)));
                        assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(dst[5 + i]),
                                "element " + (from + i));
                    }
                }
            }
        }
    }

    @Test
    void bf16WriteMatchesScalarRoundingAtEveryOffsetAndLength() {
        SplittableRandom r = new SplittableRandom(12);
        float[] src = new float[400];
        for (int i = 0; i < src.length; i++) {
            src[i] = Float.intBitsToFloat(interestingBits(r));
        }
        for (int to = 0; to < 30; to += 5) {
            for (int count = 0; count <= 300; count += 13) {
                Tensor t = Tensor.allocate(DType.BF16, new long[] {340}, Arena.ofAuto());
                t.writeFloats(to, src, 3, count);
                for (int i = 0; i < 340; i++) {
                    short expected = i >= to && i < to + count ? FloatFormats.floatToBf16(src[3 + i - to]) : 0;
                    assertEquals(expected, t.data().get(LE_SHORT, 2L * i), "element " + i + " of write at " + to);
                }
            }
        }
    }

    /** Lengths spanning several conversion blocks, on native, byte[]- and long[]-backed segments alike. */
    @Test
    void bf16RoundTripsAcrossBlocksOnEverySegmentKind() {
        SplittableRandom r = new SplittableRandom(13);
        int n = 10_007;
        float[] src = new float[n + 3];
        for (int i = 0; i < src.length; i++) {
            src[i] = Float.intBitsToFloat(interestingBits(r));
        }
        MemorySegment[] segments = {Arena.ofAuto().allocate(2L * n), MemorySegment.ofArray(new byte[2 * n]),
                MemorySegment.ofArray(new long[(2 * n + 7) / 8]).asSlice(0, 2L * n)};
        for (MemorySegment seg : segments) {
            Tensor t = new Tensor(DType.BF16, new long[] {n}, seg);
            t.writeFloats(1, src, 3, n - 1);
            float[] back = new float[n + 2];
            t.readFloats(1, back, 2, n - 1);
            for (int i = 0; i < n - 1; i++) {
                short code = FloatFormats.floatToBf16(src[3 + i]);
                assertEquals(code, seg.get(LE_SHORT, 2L * (1 + i)), "element " + (1 + i) + " of " + seg);
                assertEquals(Float.floatToRawIntBits(FloatFormats.bf16ToFloat(code)),
                        Float.floatToRawIntBits(back[2 + i]), "read back element " + (1 + i));
            }
        }
    }

    @Test
    void roundInPlaceMatchesScalarRounding() {
        SplittableRandom r = new SplittableRandom(14);
        float[] a = new float[5000];
        for (int i = 0; i < a.length; i++) {
            a[i] = Float.intBitsToFloat(interestingBits(r));
        }
        float[] rounded = a.clone();
        Rounding.roundInPlace(DType.BF16, rounded, 7, 4990);
        for (int i = 0; i < a.length; i++) {
            float expected = i >= 7 && i < 4990 ? Rounding.bf16(a[i]) : a[i];
            assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(rounded[i]), "element " + i);
        }
    }

    @Test
    void otherFloatDtypesMatchTheirScalarConversions() {
        SplittableRandom r = new SplittableRandom(13);
        float[] src = new float[257];
        for (int i = 0; i < src.length; i++) {
            src[i] = (float) r.nextGaussian() * 100;
        }
        for (DType t : DType.values()) {
            if (!t.isFloatingPoint()) {
                continue;
            }
            Tensor bulk = Tensor.fromFloats(t, src, src.length);
            Tensor scalar = Tensor.allocate(t, new long[] {src.length}, Arena.ofAuto());
            for (int i = 0; i < src.length; i++) {
                scalar.setFloat(i, src[i]);
            }
            float[] back = bulk.toFloatArray();
            for (int i = 0; i < src.length; i++) {
                assertEquals(scalar.getFloat(i), bulk.getFloat(i), t + " element " + i);
                assertEquals(bulk.getFloat(i), back[i], t + " element " + i);
            }
        }
    }
}
