package dev.crucible.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Rounding to a compute dtype the way torch does: an element-wise op on a bf16/f16 tensor is computed in
 * float32 and its result rounded to the dtype (nearest, ties to even). {@link DType#F32} and {@link DType#F64}
 * leave float32 values alone, so {@code dtype: float32} gives full precision.
 */
public final class Rounding {
    private Rounding() {
    }

    /** {@code v} rounded to {@code dtype} (returned as float32). */
    public static float round(DType dtype, float v) {
        if (dtype == DType.BF16) {
            return bf16(v);
        }
        return dtype == DType.F16 ? FloatFormats.roundToF16(v) : v;
    }

    /** A Python scalar as torch stores it in a tensor of {@code dtype} ({@code torch.tensor([0.3], dtype=bf16)}). */
    public static float scalar(DType dtype, double v) {
        return round(dtype, (float) v);
    }

    /** Rounds {@code a[from..to)} in place. */
    public static void roundInPlace(DType dtype, float[] a, int from, int to) {
        switch (dtype) {
            case BF16 -> bf16InPlace(a, from, to);
            case F16 -> {
                for (int i = from; i < to; i++) {
                    a[i] = FloatFormats.roundToF16(a[i]);
                }
            }
            default -> {
            }
        }
    }

    /**
     * {@link #bf16} over an array. The float bits are read and written through an int view of the array: C2
     * vectorises this branch-free int loop by itself, which it does not do for {@code Float.floatToRawIntBits}
     * in a loop, and unlike Vector API code it is cheap to run before C2 has compiled it (a fresh merge spends
     * its first seconds there).
     */
    private static void bf16InPlace(float[] a, int from, int to) {
        MemorySegment bits = MemorySegment.ofArray(a);
        for (int i = from; i < to; i++) {
            int v = bits.getAtIndex(ValueLayout.JAVA_INT, i);
            int rounded = (v + 0x7FFF + ((v >>> 16) & 1)) & 0xFFFF0000;
            int nan = (0x7F800000 - (v & 0x7FFFFFFF)) >> 31; // all ones for NaN: kept as it is
            bits.setAtIndex(ValueLayout.JAVA_INT, i, (rounded & ~nan) | (v & nan));
        }
    }

    /** Whether {@link #round(DType, FloatVector)} handles {@code dtype} (bf16 and the no-op float32). */
    public static boolean vectorizes(DType dtype) {
        return dtype == DType.BF16 || dtype == DType.F32;
    }

    /** Lanewise {@link #round(DType, float)} for a dtype that {@link #vectorizes}. */
    public static FloatVector round(DType dtype, FloatVector v) {
        if (dtype != DType.BF16) {
            return v;
        }
        IntVector bits = v.reinterpretAsInts();
        IntVector rounded = bits.add(bits.lanewise(VectorOperators.LSHR, 16).and(1).add(0x7FFF)).and(0xFFFF0000);
        VectorMask<Integer> nan = bits.and(0x7FFFFFFF).compare(VectorOperators.GT, 0x7F800000);
        return rounded.blend(bits, nan).reinterpretAsFloats();
    }

    /** Round-to-nearest-even to bf16 without a branch for finite values (the JIT vectorises loops of this). */
    public static float bf16(float v) {
        int bits = Float.floatToRawIntBits(v);
        if ((bits & 0x7FFFFFFF) > 0x7F800000) {
            return v;
        }
        return Float.intBitsToFloat((bits + 0x7FFF + ((bits >>> 16) & 1)) & 0xFFFF0000);
    }
}
