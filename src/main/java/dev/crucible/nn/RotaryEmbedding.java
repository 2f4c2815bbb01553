package dev.crucible.nn;

import dev.crucible.CrucibleException;
import dev.crucible.io.ModelConfig;

import java.util.Map;

/**
 * Rotary position embedding with transformers' rotate-half layout: dimension i of the rotated part pairs
 * with i + rotaryDim/2. The frequencies follow transformers' {@code ROPE_INIT_FUNCTIONS} for the rope types
 * {@code default}, {@code linear}, {@code llama3}, {@code yarn} and {@code longrope}.
 */
public final class RotaryEmbedding {
    private final int headDim;
    private final int rotaryDim;
    private final float[] invFreq;
    private final float[] longInvFreq; // longrope: frequencies used once a sequence passes the original length
    private final int originalMax;
    private final float attentionScaling;

    private RotaryEmbedding(int headDim, int rotaryDim, float[] invFreq, float[] longInvFreq, int originalMax,
                            float attentionScaling) {
        this.headDim = headDim;
        this.rotaryDim = rotaryDim;
        this.invFreq = invFreq;
        this.longInvFreq = longInvFreq;
        this.originalMax = originalMax;
        this.attentionScaling = attentionScaling;
    }

    /** Plain rope with base {@code theta} over the whole head. */
    public static RotaryEmbedding standard(int headDim, double theta) {
        return new RotaryEmbedding(headDim, headDim, baseFrequencies(headDim, theta, 1), null, 0, 1f);
    }

    public static RotaryEmbedding fromConfig(ModelConfig config, int headDim) {
        Map<String, Object> p = config.ropeScaling();
        String where = config.source() == null ? "config" : config.source().toString();
        double theta = config.ropeTheta();
        double partial = number(p, "partial_rotary_factor", config.doubleOr("partial_rotary_factor", 1.0));
        int dim = (int) (headDim * partial);
        String type = String.valueOf(p.get("rope_type"));
        switch (type) {
            case "default":
                return new RotaryEmbedding(headDim, dim, baseFrequencies(dim, theta, 1), null, 0, 1f);
            case "linear":
                return new RotaryEmbedding(headDim, dim, baseFrequencies(dim, theta, require(p, "factor", where)),
                        null, 0, 1f);
            case "llama3":
                return new RotaryEmbedding(headDim, dim, llama3(dim, theta, p, where), null, 0, 1f);
            case "yarn":
                return yarn(config, p, headDim, dim, theta, where);
            case "freq_factors": // llama.cpp's rope_freqs tensor (a GGUF of llama3 rope): base frequency i / factor i
                return new RotaryEmbedding(headDim, dim, freqFactors(dim, theta, p, where), null, 0, 1f);
            case "longrope":
                return longrope(config, p, headDim, dim, theta, where);
            default:
                throw new CrucibleException(where + ": unsupported rope_type '" + type
                        + "' (supported: default, linear, llama3, yarn, longrope)");
        }
    }

    private static double number(Map<String, Object> p, String key, double fallback) {
        Object v = p.get(key);
        return v instanceof Number n ? n.doubleValue() : fallback;
    }

    private static double nonZero(double value, double fallback) {
        return value != 0 ? value : fallback;
    }

    private static double require(Map<String, Object> p, String key, String where) {
        Object v = p.get(key);
        if (!(v instanceof Number n)) {
            throw new CrucibleException(where + ": rope scaling of type '" + p.get("rope_type")
                    + "' needs a number '" + key + "'");
        }
        return n.doubleValue();
    }

    /** 1 / (factor · theta^(2i/dim)), rounded to float32 as torch stores it. */
    private static float[] baseFrequencies(int dim, double theta, double factor) {
        float[] f = new float[dim / 2];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) (1.0 / (factor * Math.pow(theta, (2.0 * i) / dim)));
        }
        return f;
    }

    private static float[] freqFactors(int dim, double theta, Map<String, Object> p, String where) {
        if (!(p.get("freq_factors") instanceof com.fasterxml.jackson.databind.JsonNode factors) || !factors.isArray()
                || factors.size() != dim / 2) {
            throw new CrucibleException(where + ": rope type freq_factors needs " + dim / 2 + " freq_factors");
        }
        float[] f = baseFrequencies(dim, theta, 1);
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) (f[i] / factors.get(i).asDouble());
        }
        return f;
    }

    private static float[] llama3(int dim, double theta, Map<String, Object> p, String where) {
        double factor = require(p, "factor", where);
        double low = require(p, "low_freq_factor", where);
        double high = require(p, "high_freq_factor", where);
        double old = require(p, "original_max_position_embeddings", where);
        double lowWavelen = old / low;
        double highWavelen = old / high;
        float[] base = baseFrequencies(dim, theta, 1);
        float[] f = new float[base.length];
        for (int i = 0; i < f.length; i++) {
            double inv = base[i];
            double wavelen = 2 * Math.PI / inv;
            double scaled = wavelen > lowWavelen ? inv / factor : inv;
            if (!(wavelen < highWavelen) && !(wavelen > lowWavelen)) {
                double smooth = (old / wavelen - low) / (high - low);
                scaled = (1 - smooth) * scaled / factor + smooth * scaled;
            }
            f[i] = (float) scaled;
        }
        return f;
    }

    private static double yarnMscale(double scale, double mscale) {
        return scale <= 1 ? 1.0 : 0.1 * mscale * Math.log(scale) + 1.0;
    }

    private static double correctionDim(double rotations, int dim, double theta, double maxPos) {
        return dim * Math.log(maxPos / (rotations * 2 * Math.PI)) / (2 * Math.log(theta));
    }

    private static RotaryEmbedding yarn(ModelConfig config, Map<String, Object> p, int headDim, int dim,
                                        double theta, String where) {
        double factor = require(p, "factor", where);
        double originalMax = originalMaxPositions(config, p);
        Double attentionFactor = p.get("attention_factor") instanceof Number n ? n.doubleValue() : null;
        if (attentionFactor == null) {
            double mscale = number(p, "mscale", 0);
            double mscaleAll = number(p, "mscale_all_dim", 0);
            attentionFactor = mscale != 0 && mscaleAll != 0
                    ? yarnMscale(factor, mscale) / yarnMscale(factor, mscaleAll) : yarnMscale(factor, 1);
        }
        double betaFast = nonZero(number(p, "beta_fast", 0), 32); // transformers: `or 32`
        double betaSlow = nonZero(number(p, "beta_slow", 0), 1);
        boolean truncate = !(p.get("truncate") instanceof Boolean b) || b;
        double low = correctionDim(betaFast, dim, theta, originalMax);
        double high = correctionDim(betaSlow, dim, theta, originalMax);
        if (truncate) {
            low = Math.floor(low);
            high = Math.ceil(high);
        }
        low = Math.max(low, 0);
        high = Math.min(high, dim - 1);
        if (low == high) {
            high += 0.001;
        }
        float[] f = new float[dim / 2];
        for (int i = 0; i < f.length; i++) {
            double posFreq = Math.pow(theta, (2.0 * i) / dim);
            double ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
            double extrapolationWeight = 1 - ramp;
            f[i] = (float) ((1 / (factor * posFreq)) * (1 - extrapolationWeight) + (1 / posFreq) * extrapolationWeight);
        }
        return new RotaryEmbedding(headDim, dim, f, null, 0, attentionFactor.floatValue());
    }

    private static RotaryEmbedding longrope(ModelConfig config, Map<String, Object> p, int headDim, int dim,
                                            double theta, String where) {
        int originalMax = (int) originalMaxPositions(config, p);
        // without an explicit factor, transformers takes the ratio of the context lengths (Phi-3's configs)
        double factor = number(p, "factor", (double) config.maxPositionEmbeddings() / originalMax);
        double attention = p.get("attention_factor") instanceof Number n ? n.doubleValue()
                : factor <= 1 ? 1.0 : Math.sqrt(1 + Math.log(factor) / Math.log(originalMax));
        return new RotaryEmbedding(headDim, dim, scaledBy(factors(p, "short_factor", dim, where), dim, theta),
                scaledBy(factors(p, "long_factor", dim, where), dim, theta), originalMax, (float) attention);
    }

    /**
     * The pre-training context length as transformers' standardize_rope_params settles it: a top-level
     * {@code original_max_position_embeddings} (Phi-3) wins over the one in the rope parameters, and
     * {@code max_position_embeddings} stands in when neither is given.
     */
    private static double originalMaxPositions(ModelConfig config, Map<String, Object> p) {
        if (config.has("original_max_position_embeddings")) {
            return config.intOr("original_max_position_embeddings", 0);
        }
        return number(p, "original_max_position_embeddings", config.maxPositionEmbeddings());
    }

    private static double[] factors(Map<String, Object> p, String key, int dim, String where) {
        Object v = p.get(key);
        if (v instanceof com.fasterxml.jackson.databind.JsonNode node && node.isArray() && node.size() == dim / 2) {
            double[] out = new double[dim / 2];
            for (int i = 0; i < out.length; i++) {
                out[i] = node.get(i).asDouble();
            }
            return out;
        }
        throw new CrucibleException(where + ": longrope needs '" + key + "' as a list of " + dim / 2 + " numbers");
    }

    private static float[] scaledBy(double[] ext, int dim, double theta) {
        float[] f = new float[dim / 2];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) (1.0 / (ext[i] * Math.pow(theta, (2.0 * i) / dim)));
        }
        return f;
    }

    /**
     * Whether keys cached for the first {@code cached} positions were rotated with other frequencies than a
     * sequence of {@code end} positions uses: longrope once a sequence grows past the original length. Like
     * transformers' generate for Phi-3, a model then recomputes the whole cache.
     */
    public boolean invalidatesCache(int cached, int end) {
        return longInvFreq != null && cached > 0 && cached <= originalMax && end > originalMax;
    }

    public int rotaryDim() {
        return rotaryDim;
    }

    public float[] inverseFrequencies() {
        return invFreq.clone();
    }

    /**
     * cos and sin for positions [start, start + count): {@code [count][rotaryDim/2]} each, flattened, already
     * multiplied by the attention scaling (yarn, longrope). {@code sequenceEnd} selects longrope's factors.
     */
    public Table table(int start, int count, int sequenceEnd) {
        float[] freq = longInvFreq != null && sequenceEnd > originalMax ? longInvFreq : invFreq;
        int half = rotaryDim / 2;
        float[] cos = new float[count * half];
        float[] sin = new float[count * half];
        for (int t = 0; t < count; t++) {
            float pos = start + t;
            for (int i = 0; i < half; i++) {
                float angle = freq[i] * pos;
                cos[t * half + i] = (float) Math.cos(angle) * attentionScaling;
                sin[t * half + i] = (float) Math.sin(angle) * attentionScaling;
            }
        }
        return new Table(cos, sin, half, headDim);
    }

    /** Precomputed rotations for a run of positions. */
    public record Table(float[] cos, float[] sin, int half, int headDim) {
        /** Rotates the {@code heads} consecutive head vectors at {@code x[offset..]} for the t-th position. */
        public void rotate(float[] x, int offset, int heads, int t) {
            int c = t * half;
            for (int h = 0; h < heads; h++) {
                int o = offset + h * headDim;
                for (int i = 0; i < half; i++) {
                    float a = x[o + i];
                    float b = x[o + half + i];
                    x[o + i] = a * cos[c + i] - b * sin[c + i];
                    x[o + half + i] = b * cos[c + i] + a * sin[c + i];
                }
            }
        }
    }
}
