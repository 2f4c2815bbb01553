package dev.crucible.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A row-major tensor of any rank whose bytes live in a {@link MemorySegment}: a slice of a memory-mapped
 * safetensors file, or memory from an arena. Values are little-endian as in safetensors. The tensor does
 * not own its memory; whoever created the segment's arena closes it.
 */
public final class Tensor {
    static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble DOUBLE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final DType dtype;
    private final long[] shape;
    private final MemorySegment data;
    /** The same bytes in a file, read with positional reads by {@link #readFloats}; null when there is none. */
    private final FileRegion file;

    public Tensor(DType dtype, long[] shape, MemorySegment data) {
        this(dtype, shape, data, null);
    }

    private Tensor(DType dtype, long[] shape, MemorySegment data, FileRegion file) {
        long expected = Shape.numel(shape) * dtype.byteSize();
        if (data.byteSize() != expected) {
            throw new IllegalArgumentException("tensor of " + dtype + Shape.toString(shape) + " needs " + expected
                    + " bytes, segment has " + data.byteSize());
        }
        this.dtype = dtype;
        this.shape = shape.clone();
        this.data = data;
        this.file = file;
    }

    /**
     * This tensor, with {@link #readFloats} reading its bytes from {@code file} (which must hold the same bytes)
     * rather than touching the pages of a mapped {@link #data()}; for tensors read once, start to end.
     */
    public Tensor readingFrom(FileRegion file) {
        return new Tensor(dtype, shape, data, file);
    }

    /** A zero-filled tensor in memory from {@code arena}. */
    public static Tensor allocate(DType dtype, long[] shape, Arena arena) {
        return new Tensor(dtype, shape, arena.allocate(Math.max(1, Shape.numel(shape) * dtype.byteSize()), 8)
                .asSlice(0, Shape.numel(shape) * dtype.byteSize()));
    }

    /**
     * Zeroed heap memory of {@code bytes} bytes, backed by a byte[] when it fits one: the Vector API intrinsifies
     * segment loads and stores only on native and byte[]-backed segments (on long[]/float[]-backed ones it falls
     * back to per-lane copies, several times slower). Larger ones use a long[] (up to 16 GiB).
     */
    public static MemorySegment heapSegment(long bytes) {
        if (bytes <= Integer.MAX_VALUE - 8) {
            return MemorySegment.ofArray(new byte[(int) bytes]);
        }
        return MemorySegment.ofArray(new long[Math.toIntExact((bytes + 7) / 8)]).asSlice(0, bytes);
    }

    /** A float32 tensor on the heap holding a copy of {@code values}. */
    public static Tensor ofFloats(float[] values, long... shape) {
        if (Shape.numel(shape) != values.length) {
            throw new IllegalArgumentException(values.length + " values do not fill shape " + Shape.toString(shape));
        }
        MemorySegment seg = MemorySegment.ofArray(new float[values.length]);
        MemorySegment.copy(values, 0, seg, FLOAT, 0, values.length);
        return new Tensor(DType.F32, shape, seg);
    }

    /** A tensor of {@code dtype} holding {@code values} converted (rounded to nearest even) from float32. */
    public static Tensor fromFloats(DType dtype, float[] values, long... shape) {
        if (Shape.numel(shape) != values.length) {
            throw new IllegalArgumentException(values.length + " values do not fill shape " + Shape.toString(shape));
        }
        Tensor t = new Tensor(dtype, shape, heapSegment((long) values.length * dtype.byteSize()));
        t.writeFloats(0, values, 0, values.length);
        return t;
    }

    public DType dtype() {
        return dtype;
    }

    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int i) {
        return shape[i];
    }

    public long numel() {
        return Shape.numel(shape);
    }

    public long byteSize() {
        return data.byteSize();
    }

    public MemorySegment data() {
        return data;
    }

    /** Element {@code i} (flat, row-major) as float32; integer types convert exactly where they fit. */
    public float getFloat(long i) {
        return switch (dtype) {
            case F32 -> data.get(FLOAT, i * 4);
            case BF16 -> FloatFormats.bf16ToFloat(data.get(SHORT, i * 2));
            case F16 -> FloatFormats.f16ToFloat(data.get(SHORT, i * 2));
            case F64 -> (float) data.get(DOUBLE, i * 8);
            case F8_E4M3 -> FloatFormats.f8e4m3ToFloat(data.get(ValueLayout.JAVA_BYTE, i));
            case F8_E5M2 -> FloatFormats.f8e5m2ToFloat(data.get(ValueLayout.JAVA_BYTE, i));
            case I64 -> data.get(LONG, i * 8);
            case I32 -> data.get(INT, i * 4);
            case I16 -> data.get(SHORT, i * 2);
            case I8 -> data.get(ValueLayout.JAVA_BYTE, i);
            case U8, BOOL -> data.get(ValueLayout.JAVA_BYTE, i) & 0xFF;
        };
    }

    /** Element {@code i} as a long; for integer and bool tensors. */
    public long getLong(long i) {
        return switch (dtype) {
            case I64 -> data.get(LONG, i * 8);
            case I32 -> data.get(INT, i * 4);
            case I16 -> data.get(SHORT, i * 2);
            case I8 -> data.get(ValueLayout.JAVA_BYTE, i);
            case U8, BOOL -> data.get(ValueLayout.JAVA_BYTE, i) & 0xFF;
            default -> (long) getFloat(i);
        };
    }

    public void setFloat(long i, float v) {
        switch (dtype) {
            case F32 -> data.set(FLOAT, i * 4, v);
            case BF16 -> data.set(SHORT, i * 2, FloatFormats.floatToBf16(v));
            case F16 -> data.set(SHORT, i * 2, FloatFormats.floatToF16(v));
            case F64 -> data.set(DOUBLE, i * 8, v);
            case F8_E4M3 -> data.set(ValueLayout.JAVA_BYTE, i, FloatFormats.floatToF8e4m3(v));
            case F8_E5M2 -> data.set(ValueLayout.JAVA_BYTE, i, FloatFormats.floatToF8e5m2(v));
            case I64 -> data.set(LONG, i * 8, (long) v);
            case I32 -> data.set(INT, i * 4, (int) v);
            case I16 -> data.set(SHORT, i * 2, (short) v);
            case I8 -> data.set(ValueLayout.JAVA_BYTE, i, (byte) v);
            case U8 -> data.set(ValueLayout.JAVA_BYTE, i, (byte) (int) v);
            case BOOL -> data.set(ValueLayout.JAVA_BYTE, i, (byte) (v != 0 ? 1 : 0));
        }
    }

    /** Converts {@code count} elements starting at flat index {@code from} into {@code dst[dstOffset..]}. */
    public void readFloats(long from, float[] dst, int dstOffset, int count) {
        if (file != null && FileReads.supports(dtype) && FileReads.readFloats(dtype, file, from, dst, dstOffset, count)) {
            return;
        }
        FloatConversion.toFloats(dtype, data, from, dst, dstOffset, count);
    }

    /** Converts {@code count} float32 values into elements starting at flat index {@code to}. */
    public void writeFloats(long to, float[] src, int srcOffset, int count) {
        FloatConversion.fromFloats(dtype, src, srcOffset, data, to, count);
    }

    /** All elements as a new float32 array; the tensor must have fewer than 2^31 elements. */
    public float[] toFloatArray() {
        long n = numel();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("tensor of " + n + " elements is too large for one float[]");
        }
        float[] out = new float[(int) n];
        readFloats(0, out, 0, (int) n);
        return out;
    }

    /** A heap copy of this tensor converted to {@code target} (a plain byte copy when the dtype is the same). */
    public Tensor to(DType target) {
        if (target == dtype) {
            MemorySegment copy = heapSegment(byteSize());
            copy.copyFrom(data);
            return new Tensor(dtype, shape, copy);
        }
        return fromFloats(target, toFloatArray(), shape);
    }

    /** A view with another shape of the same element count. */
    public Tensor reshape(long... newShape) {
        return new Tensor(dtype, newShape, data);
    }

    @Override
    public String toString() {
        return dtype.safetensorsName() + Shape.toString(shape);
    }
}
