package dev.crucible.tensor;

import java.util.Arrays;

/** Helpers for row-major shapes given as {@code long[]}; a 0-d shape has one element. */
public final class Shape {
    private Shape() {
    }

    public static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public static String toString(long[] shape) {
        return Arrays.toString(shape);
    }

    /** Number of rows when the last dimension is a row; a 0-d or 1-d tensor is one row. */
    public static long rows(long[] shape) {
        return shape.length <= 1 ? 1 : numel(shape) / Math.max(1, shape[shape.length - 1]);
    }
}
