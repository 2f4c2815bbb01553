package dev.crucible.eval.tasks;

import java.util.ArrayList;
import java.util.List;

/**
 * lm-eval's aggregations ({@code api/metrics.py}) and their standard errors, computed as Python does (sums in
 * order, float64): {@code mean} with the closed-form standard error of the mean, the bootstrapped ones
 * ({@code perplexity}, {@code median}, {@code nanmean}: chunk i of the resamples drawn with CPython's
 * {@code random.Random(i).choices}) and the ones without a standard error ({@code weighted_perplexity},
 * {@code bits_per_byte}).
 */
enum Aggregation {
    MEAN("mean"), MEDIAN("median"), PERPLEXITY("perplexity"), WEIGHTED_PERPLEXITY("weighted_perplexity"),
    BITS_PER_BYTE("bits_per_byte"), NANMEAN("nanmean");

    /** A per-document value that is a (value, weight) pair: lm-eval's (loglikelihood, words or bytes) tuples. */
    record Weighted(double value, long weight) {
    }

    final String pythonName;

    Aggregation(String pythonName) {
        this.pythonName = pythonName;
    }

    static Aggregation named(String name) {
        for (Aggregation a : values()) {
            if (a.pythonName.equals(name)) {
                return a;
            }
        }
        return null;
    }

    static List<String> names() {
        List<String> out = new ArrayList<>();
        for (Aggregation a : values()) {
            out.add(a.pythonName);
        }
        return out;
    }

    double apply(List<Object> items) {
        return switch (this) {
            case MEAN -> mean(numbers(items));
            case MEDIAN -> median(numbers(items));
            case PERPLEXITY -> Math.exp(-mean(numbers(items)));
            case WEIGHTED_PERPLEXITY -> Math.exp(-weightedMean(items));
            case BITS_PER_BYTE -> -weightedMean(items) / Math.log(2);
            case NANMEAN -> nanmean(numbers(items));
        };
    }

    /** The standard error lm-eval reports, or null for "N/A". */
    Double stderr(List<Object> items, int bootstrapIters) {
        if (bootstrapIters <= 0 || items.size() <= 1) {
            return null;
        }
        return switch (this) {
            case MEAN -> sampleStddev(numbers(items)) / Math.sqrt(items.size());
            case MEDIAN, PERPLEXITY, NANMEAN -> bootstrap(numbers(items), bootstrapIters);
            case WEIGHTED_PERPLEXITY, BITS_PER_BYTE -> null;
        };
    }

    private static double[] numbers(List<Object> items) {
        double[] out = new double[items.size()];
        for (int i = 0; i < out.length; i++) {
            Object o = items.get(i);
            out[i] = o instanceof Boolean b ? (b ? 1 : 0) : ((Number) o).doubleValue();
        }
        return out;
    }

    /** Python's {@code sum(arr) / len(arr)}: left-to-right float64 additions. */
    static double mean(double[] a) {
        double s = 0;
        for (double x : a) {
            s += x;
        }
        return s / a.length;
    }

    private static double median(double[] a) {
        double[] s = a.clone();
        java.util.Arrays.sort(s);
        return s[s.length / 2];
    }

    private static double nanmean(double[] a) {
        List<Double> kept = new ArrayList<>();
        for (double x : a) {
            if (!Double.isNaN(x)) {
                kept.add(x);
            }
        }
        if (kept.isEmpty()) {
            return Double.NaN;
        }
        double[] k = kept.stream().mapToDouble(Double::doubleValue).toArray();
        return NumpySum.pairwise(k) / k.length;
    }

    private static double weightedMean(List<Object> items) {
        double a = 0;
        double b = 0;
        for (Object o : items) {
            Weighted w = (Weighted) o;
            a += w.value();
            b += w.weight();
        }
        return a / b;
    }

    static double sampleStddev(double[] a) {
        double mu = mean(a);
        double s = 0;
        for (double x : a) {
            s += (x - mu) * (x - mu);
        }
        return Math.sqrt(s / (a.length - 1));
    }

    /**
     * lm-eval's {@code bootstrap_stderr}: {@code iters / chunk} chunks (chunk = min(1000, iters)); chunk i draws
     * its resamples with {@code random.Random(i).choices(xs, k=len(xs))}; the sample standard deviation of all.
     */
    private double bootstrap(double[] xs, int iters) {
        int chunk = Math.min(1000, iters);
        int chunks = iters / chunk;
        double[] res = new double[chunks * chunk];
        double[] resample = new double[xs.length];
        int r = 0;
        for (int i = 0; i < chunks; i++) {
            PythonRandom rnd = new PythonRandom(i);
            for (int j = 0; j < chunk; j++) {
                int[] idx = rnd.choiceIndices(xs.length, xs.length);
                for (int k = 0; k < idx.length; k++) {
                    resample[k] = xs[idx[k]];
                }
                res[r++] = switch (this) {
                    case MEDIAN -> median(resample);
                    case PERPLEXITY -> Math.exp(-mean(resample));
                    case NANMEAN -> nanmean(resample);
                    default -> throw new IllegalStateException(name());
                };
            }
        }
        return sampleStddev(res);
    }
}
