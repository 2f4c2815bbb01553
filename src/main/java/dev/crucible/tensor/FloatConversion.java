package dev.crucible.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Bulk conversion between stored elements and float32 arrays; the loops are kept simple so the JIT vectorises them. */
final class FloatConversion {
    private FloatConversion() {
    }

    static void toFloats(DType dtype, MemorySegment src, long from, float[] dst, int off, int count) {
        switch (dtype) {
            case F32 -> MemorySegment.copy(src, Tensor.FLOAT, from * 4, dst, off, count);
            case BF16 -> {
                long base = from * 2;
                for (int i = 0; i < count; i++) {
                    dst[off + i] = Float.intBitsToFloat((src.get(Tensor.SHORT, base + 2L * i) & 0xFFFF) << 16);
                }
            }
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
            case BF16 -> {
                long base = to * 2;
                for (int i = 0; i < count; i++) {
                    dst.set(Tensor.SHORT, base + 2L * i, FloatFormats.floatToBf16(src[off + i]));
                }
            }
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
