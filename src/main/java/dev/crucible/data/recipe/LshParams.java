package dev.crucible.data.recipe;

/**
 * The LSH banding of a MinHash signature: {@code bands} bands of {@code rows} values each (the first
 * {@code bands * rows} permutations; the rest only sharpen the Jaccard estimate). Two signatures become a candidate
 * pair when all values of some band agree, which for true Jaccard {@code s} happens with probability
 * {@code 1 - (1 - s^rows)^bands}. {@link #optimal} chooses them as datasketch's {@code _optimal_param} (and so
 * text-dedup) does: among all {@code bands * rows <= numPerm}, the pair minimising the equally weighted areas of
 * false positives (that probability integrated over {@code [0, threshold]}) and false negatives (its complement over
 * {@code [threshold, 1]}).
 */
public record LshParams(int bands, int rows) implements java.io.Serializable {

    public static LshParams optimal(double threshold, int numPerm) {
        return optimal(threshold, numPerm, 0.5, 0.5);
    }

    public static LshParams optimal(double threshold, int numPerm, double falsePositiveWeight, double falseNegativeWeight) {
        double best = Double.POSITIVE_INFINITY;
        LshParams opt = new LshParams(0, 0);
        for (int b = 1; b <= numPerm; b++) {
            for (int r = 1; r <= numPerm / b; r++) {
                int bands = b;
                int rows = r;
                double fp = integrate(s -> candidateProbability(s, bands, rows), 0, threshold);
                double fn = integrate(s -> 1 - candidateProbability(s, bands, rows), threshold, 1);
                double error = fp * falsePositiveWeight + fn * falseNegativeWeight;
                if (error < best) {
                    best = error;
                    opt = new LshParams(b, r);
                }
            }
        }
        return opt;
    }

    /** The chance that two sets of Jaccard similarity {@code s} share at least one band. */
    public static double candidateProbability(double s, int bands, int rows) {
        return 1 - Math.pow(1 - Math.pow(s, rows), bands);
    }

    /** Adaptive Simpson quadrature, to well below the differences between neighbouring (bands, rows) choices. */
    private static double integrate(java.util.function.DoubleUnaryOperator f, double lo, double hi) {
        double fa = f.applyAsDouble(lo);
        double fb = f.applyAsDouble(hi);
        double fm = f.applyAsDouble((lo + hi) / 2);
        return simpson(f, lo, hi, fa, fm, fb, (hi - lo) / 6 * (fa + 4 * fm + fb), 1e-12, 0);
    }

    private static double simpson(java.util.function.DoubleUnaryOperator f, double lo, double hi, double fa, double fm,
                                  double fb, double whole, double eps, int level) {
        double mid = (lo + hi) / 2;
        double lm = f.applyAsDouble((lo + mid) / 2);
        double rm = f.applyAsDouble((mid + hi) / 2);
        double left = (mid - lo) / 6 * (fa + 4 * lm + fm);
        double right = (hi - mid) / 6 * (fm + 4 * rm + fb);
        double delta = left + right - whole;
        // at least 16 panels, so a steep polynomial cannot hide between the first samples
        if (level >= 50 || (level >= 4 && Math.abs(delta) <= 15 * eps)) {
            return left + right + delta / 15;
        }
        return simpson(f, lo, mid, fa, lm, fm, left, eps / 2, level + 1)
                + simpson(f, mid, hi, fm, rm, fb, right, eps / 2, level + 1);
    }
}
