package dev.crucible.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Bulk conversion between stored elements and float32 arrays. bf16, the dtype of nearly every checkpoint,
 * has branch-free loops that C2 vectorises (bit-identical to {@link FloatFormats}); the others are plain loops.
 */
final class FloatConversion {
    private FloatConversion() {
    }

    /**
     * Codes per block. The segment side is a bulk copy into a per-thread short[], the conversion a plain loop over
     * arrays that C2 vectorises by itself. Vector API code was faster once compiled, but it runs 100x slower
     * until C2 compiles it (interpreted and C1 code goes through its per-lane fallbacks) and its segment loads
     * and stores stayed on those fallbacks in a merge; that warm-up alone cost seconds per merge.
     */
    private static final int BLOCK = 4096;
    private static final ThreadLocal<short[]> CODE_BUFFER = ThreadLocal.withInitial(() -> new short[BLOCK]);

    /** bf16 is the upper half of a float32. */
    static void bf16ToFloats(MemorySegment src, long byteOffset, float[] dst, int off, int count) {
        short[] codes = CODE_BUFFER.get();
        for (int done = 0; done < count; done += BLOCK) {
            int n = Math.min(BLOCK, count - done);
            MemorySegment.copy(src, Tensor.SHORT, byteOffset + 2L * done, codes, 0, n);
            int base = off + done;
            for (int i = 0; i < n; i++) {
                dst[base + i] = Float.intBitsToFloat(codes[i] << 16); // sign extension is shifted out
            }
        }
    }

    /** float32 to bf16, rounding to nearest even; NaNs stay NaN (quiet, sign kept), as {@link FloatFormats#floatToBf16}. */
    static void floatsToBf16(float[] src, int off, MemorySegment dst, long byteOffset, int count) {
        short[] codes = CODE_BUFFER.get();
        for (int done = 0; done < count; done += BLOCK) {
            int n = Math.min(BLOCK, count - done);
            int base = off + done;
            for (int i = 0; i < n; i++) {
                int bits = Float.floatToRawIntBits(src[base + i]);
                int rounded = (bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16;
                int quietNan = (bits >>> 16) | 0x0040;
                int nan = (0x7F800000 - (bits & 0x7FFFFFFF)) >> 31; // all ones for NaN, without a branch
                codes[i] = (short) ((rounded & ~nan) | (quietNan & nan));
            }
            MemorySegment.copy(codes, 0, dst, Tensor.SHORT, byteOffset + 2L * done, n);
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
