package dev.crucible.merge;

/**
 * The condition number (largest over smallest singular value) of a layer's router matrix, the measure mergekit
 * uses to warn about prompts too similar to tell experts apart.
 */
final class RouterConditioning {
    private RouterConditioning() {
    }

    /** cond of the row-major [rows, values.length / rows] matrix; infinite when it is rank-deficient. */
    static double conditionNumber(float[] values, int rows) {
        int cols = values.length / rows;
        double[] s = LowRank.of(values, rows, cols, Math.min(rows, cols)).s();
        double max = s[0];
        double min = s[s.length - 1];
        return min <= max * 1e-7 ? Double.POSITIVE_INFINITY : max / min;
    }
}
