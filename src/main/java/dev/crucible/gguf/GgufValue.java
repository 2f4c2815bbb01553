package dev.crucible.gguf;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * One typed metadata value. Scalars hold a {@link Long} (the integer types, unsigned ones by bit pattern), a
 * {@link Float}, {@link Double}, {@link Boolean} or {@link String}; an array holds its element type and a Java
 * array: {@code String[]}, {@code float[]}, {@code double[]}, {@code boolean[]} or {@code long[]} (every integer
 * element type), so that vocabularies of 150k tokens stay compact.
 */
public record GgufValue(GgufValueType type, GgufValueType elementType, Object value) {
    public GgufValue {
        Objects.requireNonNull(type);
        Objects.requireNonNull(value);
        if (type == GgufValueType.ARRAY && (elementType == null || elementType == GgufValueType.ARRAY)) {
            throw new IllegalArgumentException("array of " + elementType);
        }
    }

    public static GgufValue string(String s) {
        return new GgufValue(GgufValueType.STRING, null, s);
    }

    public static GgufValue uint32(long v) {
        return new GgufValue(GgufValueType.UINT32, null, v);
    }

    public static GgufValue int32(long v) {
        return new GgufValue(GgufValueType.INT32, null, v);
    }

    public static GgufValue uint64(long v) {
        return new GgufValue(GgufValueType.UINT64, null, v);
    }

    public static GgufValue float32(float v) {
        return new GgufValue(GgufValueType.FLOAT32, null, v);
    }

    public static GgufValue bool(boolean v) {
        return new GgufValue(GgufValueType.BOOL, null, v);
    }

    public static GgufValue strings(List<String> values) {
        return new GgufValue(GgufValueType.ARRAY, GgufValueType.STRING, values.toArray(String[]::new));
    }

    public static GgufValue floats(float[] values) {
        return new GgufValue(GgufValueType.ARRAY, GgufValueType.FLOAT32, values);
    }

    /** An array of integers stored as {@code elementType} (INT32, UINT32, ...). */
    public static GgufValue integers(GgufValueType elementType, long[] values) {
        return new GgufValue(GgufValueType.ARRAY, elementType, values);
    }

    public boolean isArray() {
        return type == GgufValueType.ARRAY;
    }

    /** Number of elements of an array, 1 for a scalar. */
    public int length() {
        return switch (value) {
            case String[] a -> a.length;
            case float[] a -> a.length;
            case double[] a -> a.length;
            case boolean[] a -> a.length;
            case long[] a -> a.length;
            default -> 1;
        };
    }

    public String asString() {
        return (String) value;
    }

    /** An integer scalar's value (unsigned 64-bit values above Long.MAX_VALUE come back negative). */
    public long asLong() {
        if (value instanceof Long l) {
            return l;
        }
        throw new IllegalStateException("not an integer: " + type);
    }

    public double asDouble() {
        return switch (value) {
            case Float f -> f;
            case Double d -> d;
            case Long l -> l;
            default -> throw new IllegalStateException("not a number: " + type);
        };
    }

    public boolean asBoolean() {
        return (Boolean) value;
    }

    public String[] asStrings() {
        return (String[]) value;
    }

    public float[] asFloats() {
        return (float[]) value;
    }

    public long[] asLongs() {
        return (long[]) value;
    }

    /** A short human-readable rendering, arrays abbreviated to their first elements. */
    public String describe(int maxElements) {
        if (!isArray()) {
            return value instanceof String s ? quote(s, 200) : String.valueOf(value);
        }
        int n = length();
        StringBuilder b = new StringBuilder(elementType.name().toLowerCase()).append('[').append(n).append("] [");
        for (int i = 0; i < Math.min(n, maxElements); i++) {
            b.append(i == 0 ? "" : ", ").append(switch (value) {
                case String[] a -> quote(a[i], 40);
                case float[] a -> String.valueOf(a[i]);
                case double[] a -> String.valueOf(a[i]);
                case boolean[] a -> String.valueOf(a[i]);
                case long[] a -> String.valueOf(a[i]);
                default -> "?";
            });
        }
        return b.append(n > maxElements ? ", ...]" : "]").toString();
    }

    private static String quote(String s, int max) {
        String shown = s.length() > max ? s.substring(0, max) + "..." : s;
        return '"' + shown.replace("\\", "\\\\").replace("\n", "\\n").replace("\"", "\\\"") + '"';
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof GgufValue v) || v.type != type || v.elementType != elementType) {
            return false;
        }
        return Arrays.deepEquals(new Object[] {value}, new Object[] {v.value});
    }

    @Override
    public int hashCode() {
        return Arrays.deepHashCode(new Object[] {type, elementType, value});
    }
}
