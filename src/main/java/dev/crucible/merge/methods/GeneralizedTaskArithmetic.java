package dev.crucible.merge.methods;

import dev.crucible.tensor.CounterRandom;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Rounding;
import dev.crucible.tensor.Tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.Map;

/**
 * mergekit's generalized task arithmetic: task_arithmetic, ties, dare_ties, dare_linear, breadcrumbs,
 * breadcrumbs_ties, della, della_linear. Per tensor: deltas {@code x_i - b}, sparsified with their own density,
 * weighted ({@code W_i = δ_i·w_i}, before sign election); with consensus the majority sign is that of
 * {@code Σ W_i} (ties to +1) and only agreeing entries are summed, the divisor being the sum of their weights;
 * otherwise all are summed and the divisor is {@code Σ w_i}. Then {@code normalize}, {@code lambda}, {@code b +}.
 */
final class GeneralizedTaskArithmetic extends AbstractMergeMethod {
    enum Sparsification { NONE, MAGNITUDE, RANDOM, MAGNITUDE_OUTLIERS, DELLA }

    private final Sparsification sparsification;
    private final boolean consensus;

    GeneralizedTaskArithmetic(String name, Sparsification sparsification, boolean consensus, boolean normalize,
                              boolean rescale) {
        super(name, BaseModelUse.REQUIRED,
                params("int8_mask", false, "normalize", normalize, "rescale", rescale, "lambda", 1.0),
                modelParams(sparsification));
        this.sparsification = sparsification;
        this.consensus = consensus;
    }

    private static Map<String, Object> modelParams(Sparsification s) {
        return switch (s) {
            case MAGNITUDE_OUTLIERS -> params("weight", null, "density", 1.0, "gamma", 0.01);
            case DELLA -> params("weight", null, "density", 1.0, "epsilon", 0.15);
            default -> params("weight", null, "density", 1.0);
        };
    }

    /** Parameter values of one call, validated. */
    record Settings(int base, int[] others, float[] weights, double[] density, double[] extra, boolean normalize,
                    boolean rescale, double lambda) {
    }

    @Override
    Tensor merge(MethodCall c) {
        Settings s = settings(c);
        if (s.others.length == 0) {
            return c.tensor(s.base);
        }
        if (streams()) {
            return StreamingTaskArithmetic.merge(c, s, sparsification, consensus);
        }
        return mergeWhole(c, s);
    }

    /** Whether tensors are merged in chunks rather than as whole-tensor copies. */
    private boolean streams() {
        return sparsification == Sparsification.NONE || sparsification == Sparsification.RANDOM
                || sparsification == Sparsification.MAGNITUDE;
    }

    @Override
    public long workingBytes(long numel, int inputs, DType dtype) {
        if (!streams()) { // breadcrumbs' cut packs one model's magnitudes at a time (8 bytes each)
            return super.workingBytes(numel, inputs, dtype)
                    + (sparsification == Sparsification.MAGNITUDE_OUTLIERS ? numel * 8 : 0);
        }
        // top-k: a bit set per model, and the packed magnitudes of one model while its cut is selected
        long selection = sparsification == Sparsification.MAGNITUDE ? numel * 8 + inputs * (numel / 8 + 8) : 0;
        return streamingBytes(numel, inputs, dtype) + selection;
    }

    private Settings settings(MethodCall c) {
        int b = c.requireBase();
        int[] others = c.others();
        c.globalBool("int8_mask"); // only a memory knob upstream: the mask dtype does not change results
        boolean normalize = c.globalBool("normalize");
        boolean rescale = c.globalBool("rescale");
        double lambda = c.globalNumber("lambda");
        int models = others.length;
        float[] w = new float[models];
        double[] density = new double[models];
        double[] extra = new double[models];
        for (int m = 0; m < models; m++) {
            int i = others[m];
            w[m] = c.scalar(c.modelNumber(i, "weight"));
            density[m] = c.modelNumber(i, "density", 0, 1);
            if (sparsification == Sparsification.MAGNITUDE_OUTLIERS) {
                extra[m] = c.modelNumber(i, "gamma", 0, 1);
            } else if (sparsification == Sparsification.DELLA) {
                extra[m] = c.modelNumber(i, "epsilon", 0, 1);
                if (density[m] > 0 && density[m] < 1
                        && (density[m] + extra[m] >= 1 || density[m] - extra[m] <= 0)) {
                    throw c.error("parameter 'epsilon' (" + extra[m] + ") must keep density +/- epsilon inside (0, 1)"
                            + " for model " + c.modelName(i) + " (density " + density[m] + ")");
                }
            }
        }
        return new Settings(b, others, w, density, extra, normalize, rescale, lambda);
    }

    /** Whole-tensor path: sparsifications that need every delta at once (torch's tie order, per-row ranks). */
    private Tensor mergeWhole(MethodCall c, Settings s) {
        DType dt = c.dtype;
        int n = c.size();
        int models = s.others.length;
        float[] base = c.values(s.base);
        float[][] weighted = new float[models][];
        for (int m = 0; m < models; m++) {
            float[] d = c.values(s.others[m]);
            for (int j = 0; j < n; j++) {
                d[j] -= base[j];
            }
            Rounding.roundInPlace(dt, d, 0, n);
            long key = CounterRandom.streamKey(c.in.seed(), c.in.tensorName(), s.others[m]);
            switch (sparsification) {
                case MAGNITUDE -> Sparsify.magnitude(d, n, s.density[m], s.rescale, dt);
                case MAGNITUDE_OUTLIERS -> Sparsify.magnitudeOutliers(d, n, s.density[m], s.extra[m], s.rescale, dt);
                case RANDOM -> Sparsify.bernoulli(d, n, s.density[m], s.rescale, dt, key);
                case DELLA -> Sparsify.della(d, c.shape, s.density[m], s.extra[m], s.rescale, dt, key);
                case NONE -> {
                }
            }
            float wm = s.weights[m];
            for (int j = 0; j < n; j++) {
                d[j] *= wm;
            }
            Rounding.roundInPlace(dt, d, 0, n);
            weighted[m] = d;
        }
        combine(dt, s, consensus, base, weighted, 0, n, base);
        return c.output(base);
    }

    /**
     * Sign election (or plain sum), normalisation, lambda and {@code b +} for entries {@code [from, to)}:
     * {@code weighted[m][j]} are the rounded weighted deltas, {@code out} may be {@code base}.
     */
    static void combine(DType dt, Settings s, boolean consensus, float[] base, float[][] weighted, int from, int to,
                        float[] out) {
        int models = weighted.length;
        float[] w = s.weights;
        float lam = (float) s.lambda;
        boolean scale = s.lambda != 1;
        if (Rounding.vectorizes(dt)) {
            from = combineVector(dt, s, consensus, base, weighted, from, to, out);
        }
        if (consensus) {
            // branch-free on the signs: they are random, and mispredicted branches cost more than the arithmetic
            for (int j = from; j < to; j++) {
                float sum = weighted[0][j];
                for (int m = 1; m < models; m++) {
                    sum += weighted[m][j];
                }
                int sumBits = Float.floatToRawIntBits(Rounding.round(dt, sum));
                int negative = (sumBits >>> 31) & nonZero(sumBits); // -0 elects +1 like torch's (sum >= 0)
                float mixed = 0;
                float div = 0;
                for (int m = 0; m < models; m++) {
                    float v = weighted[m][j];
                    int bits = Float.floatToRawIntBits(v);
                    float agree = nonZero(bits) & (1 ^ ((bits >>> 31) ^ negative));
                    float tv = v * agree; // v or ±0, as torch's v * mask
                    float tw = w[m] * agree;
                    mixed = m == 0 ? tv : mixed + tv;
                    div = m == 0 ? tw : div + tw;
                }
                mixed = Rounding.round(dt, mixed);
                div = Rounding.round(dt, div);
                if (div == 0) {
                    div = 1;
                }
                out[j] = finish(dt, base[j], mixed, div, s.normalize, scale, lam);
            }
        } else {
            float div = w[0];
            for (int m = 1; m < models; m++) {
                div += w[m];
            }
            div = Rounding.round(dt, div);
            if (Math.abs(div) < 1e-8f) {
                div = 1;
            }
            for (int j = from; j < to; j++) {
                float sum = weighted[0][j];
                for (int m = 1; m < models; m++) {
                    sum += weighted[m][j];
                }
                out[j] = finish(dt, base[j], Rounding.round(dt, sum), div, s.normalize, scale, lam);
            }
        }
    }

    private static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED;

    /** {@link #combine} lanewise (the same IEEE operations in the same order); returns where the tail starts. */
    private static int combineVector(DType dt, Settings s, boolean consensus, float[] base, float[][] weighted,
                                     int from, int to, float[] out) {
        int models = weighted.length;
        float[] w = s.weights;
        FloatVector zero = FloatVector.zero(FLOATS);
        FloatVector one = FloatVector.broadcast(FLOATS, 1f);
        FloatVector lam = FloatVector.broadcast(FLOATS, (float) s.lambda);
        boolean scale = s.lambda != 1;
        FloatVector plainDiv = null;
        if (!consensus) {
            float div = w[0];
            for (int m = 1; m < models; m++) {
                div += w[m];
            }
            div = Rounding.round(dt, div);
            plainDiv = FloatVector.broadcast(FLOATS, Math.abs(div) < 1e-8f ? 1f : div);
        }
        int j = from;
        for (int upper = from + FLOATS.loopBound(to - from); j < upper; j += FLOATS.length()) {
            FloatVector sum = FloatVector.fromArray(FLOATS, weighted[0], j);
            for (int m = 1; m < models; m++) {
                sum = sum.add(FloatVector.fromArray(FLOATS, weighted[m], j));
            }
            FloatVector mixed;
            FloatVector div;
            if (consensus) {
                VectorMask<Float> negative = Rounding.round(dt, sum).compare(VectorOperators.LT, 0f);
                mixed = null;
                div = null;
                for (int m = 0; m < models; m++) {
                    FloatVector v = FloatVector.fromArray(FLOATS, weighted[m], j);
                    VectorMask<Float> agree = v.compare(VectorOperators.GT, 0f).andNot(negative)
                            .or(v.compare(VectorOperators.LT, 0f).and(negative));
                    FloatVector keep = zero.blend(one, agree);
                    FloatVector tv = v.mul(keep);
                    FloatVector tw = keep.mul(w[m]);
                    mixed = m == 0 ? tv : mixed.add(tv);
                    div = m == 0 ? tw : div.add(tw);
                }
                mixed = Rounding.round(dt, mixed);
                div = Rounding.round(dt, div);
                div = div.blend(one, div.compare(VectorOperators.EQ, 0f));
            } else {
                mixed = Rounding.round(dt, sum);
                div = plainDiv;
            }
            if (s.normalize) {
                mixed = Rounding.round(dt, mixed.div(div));
            }
            if (scale) {
                mixed = Rounding.round(dt, mixed.mul(lam));
            }
            Rounding.round(dt, FloatVector.fromArray(FLOATS, base, j).add(mixed)).intoArray(out, j);
        }
        return j;
    }

    /** 1 when the float bits are not ±0, else 0. */
    private static int nonZero(int bits) {
        return ((bits & 0x7FFFFFFF) + 0x7FFFFFFF) >>> 31;
    }

    private static float finish(DType dt, float base, float mixed, float div, boolean normalize, boolean scale,
                                float lambda) {
        if (normalize) {
            mixed = Rounding.round(dt, mixed / div);
        }
        if (scale) {
            mixed = Rounding.round(dt, mixed * lambda);
        }
        return Rounding.round(dt, base + mixed);
    }
}
