package dev.crucible.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Bulk conversion between stored elements and float32 arrays. bf16, the dtype of nearly every checkpoint,
 * has explicit Vector API loops (bit-identical to {@link FloatFormats}); the others are plain loops.
 */
final class FloatConversion {
    private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_PREFERRED;
    /** Shorts with as many lanes as {@link #INTS}, so one widening conversion fills one int vector. */
    private static final VectorSpecies<Short> SHORTS =
            VectorSpecies.of(short.class, VectorShape.forBitSize(INTS.vectorBitSize() / 2));
    /** Shorts filling a whole preferred-size vector: twice the lanes of {@link #INTS}. */
    private static final VectorSpecies<Short> CODES = ShortVector.SPECIES_PREFERRED;

    private FloatConversion() {
    }

    /**
     * bf16 is the upper half of a float32: widen each 16-bit code and shift it into the high half. One full-width
     * load of codes fills two int vectors, which measured faster than two half-width loads.
     */
    static void bf16ToFloats(MemorySegment src, long byteOffset, float[] dst, int off, int count) {
        int i = 0;
        int half = INTS.length();
        for (int upper = CODES.loopBound(count); i < upper; i += CODES.length()) {
            ShortVector codes = ShortVector.fromMemorySegment(CODES, src, byteOffset + 2L * i, ByteOrder.LITTLE_ENDIAN);
            // S2I sign-extends; the shift pushes the extension bits out, leaving code << 16
            ((IntVector) codes.convertShape(VectorOperators.S2I, INTS, 0))
                    .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, off + i);
            ((IntVector) codes.convertShape(VectorOperators.S2I, INTS, 1))
                    .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, off + i + half);
        }
        for (; i < count; i++) {
            dst[off + i] = FloatFormats.bf16ToFloat(src.get(Tensor.SHORT, byteOffset + 2L * i));
        }
    }

    /** float32 to bf16, rounding to nearest even; NaNs stay NaN (quiet, sign kept), as {@link FloatFormats#floatToBf16}. */
    static void floatsToBf16(float[] src, int off, MemorySegment dst, long byteOffset, int count) {
        int i = 0;
        for (int upper = INTS.loopBound(count); i < upper; i += INTS.length()) {
            IntVector bits = FloatVector.fromArray(FloatVector.SPECIES_PREFERRED, src, off + i).reinterpretAsInts();
            IntVector lsb = bits.lanewise(VectorOperators.LSHR, 16).and(1);
            IntVector rounded = bits.add(lsb.add(0x7FFF)).lanewise(VectorOperators.LSHR, 16);
            IntVector quietNan = bits.lanewise(VectorOperators.LSHR, 16).or(0x0040);
            VectorMask<Integer> nan = bits.and(0x7FFFFFFF).compare(VectorOperators.GT, 0x7F800000);
            ((ShortVector) rounded.blend(quietNan, nan).convertShape(VectorOperators.I2S, SHORTS, 0))
                    .intoMemorySegment(dst, byteOffset + 2L * i, ByteOrder.LITTLE_ENDIAN);
        }
        for (; i < count; i++) {
            dst.set(Tensor.SHORT, byteOffset + 2L * i, FloatFormats.floatToBf16(src[off + i]));
        }
    }

    static void toFloats(DType dtype, MemorySegment src, long from, float[] dst, int off, int count) {
        switch (dtype) {
            case F32 -> MemorySegment.copy(src, Tensor.FLOAT, from * 4, dst, off, count);
            case BF16 -> bf16ToFloats(src, from * 2, dst, off, count);
            case F16 -> {
                long base = from * 2;
                for (int i = 0; i < count; i++) {
                    dst[off + i] = Float.float16ToFloat(src.get(Tensor.SHORT, base + 2L * i));
                }
            }
            case F8_E4M3 -> {
                for (int i = 0; i < count; i++) {
                    dst[off + i] = FloatFormats.f8e4m3ToFloat(src.get(ValueLayout.JAVA_BYTE, from + i));
                }
            }
            case F8_E5M2 -> {
                for (int i = 0; i < count; i++) {
                    dst[off + i] = FloatFormats.f8e5m2ToFloat(src.get(ValueLayout.JAVA_BYTE, from + i));
                }
            }
            default -> {
                Tensor view = new Tensor(dtype, new long[] {src.byteSize() / dtype.byteSize()}, src);
                for (int i = 0; i < count; i++) {
                    dst[off + i] = view.getFloat(from + i);
                }
            }
        }
    }

    static void fromFloats(DType dtype, float[] src, int off, MemorySegment dst, long to, int count) {
        switch (dtype) {
            case F32 -> MemorySegment.copy(src, off, dst, Tensor.FLOAT, to * 4, count);
            case BF16 -> floatsToBf16(src, off, dst, to * 2, count);
            case F16 -> {
                long base = to * 2;
                for (int i = 0; i < count; i++) {
                    dst.set(Tensor.SHORT, base + 2L * i, Float.floatToFloat16(src[off + i]));
                }
            }
            default -> {
                Tensor view = new Tensor(dtype, new long[] {dst.byteSize() / dtype.byteSize()}, dst);
                for (int i = 0; i < count; i++) {
                    view.setFloat(to + i, src[off + i]);
                }
            }
        }
    }
}
