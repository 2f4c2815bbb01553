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
