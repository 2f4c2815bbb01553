package dev.crucible.nn;

import dev.crucible.CrucibleException;
import dev.crucible.io.ModelConfig;

import java.util.Map;

/**
 * cos and sin tables [seq, headDim] for the rope types training supports, with transformers' inverse
 * frequencies: {@code default}, {@code linear} (positions divided by the factor) and {@code llama3} (long
 * wavelengths divided by the factor, a smooth blend between the two wavelength bounds).
 */
final class RopeTables {
    private RopeTables() {
    }

    static void check(ModelConfig config) {
        String type = config.ropeType();
        if (!type.equals("default") && !type.equals("linear") && !type.equals("llama3")) {
            throw new CrucibleException("rope_type '" + type + "': training supports default, linear and llama3 rope so far");
        }
        Object partial = config.ropeScaling().get("partial_rotary_factor");
        double factor = partial instanceof Number n ? n.doubleValue() : config.doubleOr("partial_rotary_factor", 1.0);
        if (factor != 1.0) {
            throw new CrucibleException("partial_rotary_factor " + factor + ": training supports full rotary embeddings so far");
        }
    }

    static float[][] of(ModelConfig config, int seq, int headDim) {
        Map<String, Object> scaling = config.ropeScaling();
        float[] invFreq = new float[headDim / 2];
        for (int i = 0; i < invFreq.length; i++) {
            invFreq[i] = (float) (1.0 / Math.pow(config.ropeTheta(), (float) (2 * i) / headDim));
        }
        switch (config.ropeType()) {
            case "linear" -> {
                double factor = number(scaling, "factor");
                for (int i = 0; i < invFreq.length; i++) {
                    invFreq[i] = (float) (invFreq[i] / factor);
                }
            }
            case "llama3" -> {
                double factor = number(scaling, "factor");
                double low = number(scaling, "low_freq_factor");
                double high = number(scaling, "high_freq_factor");
                double oldContext = number(scaling, "original_max_position_embeddings");
                double lowFreqWavelen = oldContext / low;
                double highFreqWavelen = oldContext / high;
                for (int i = 0; i < invFreq.length; i++) {
                    double wavelen = 2 * Math.PI / invFreq[i];
                    double scaled = wavelen > lowFreqWavelen ? invFreq[i] / factor : invFreq[i];
                    if (!(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen)) {
                        double smooth = (oldContext / wavelen - low) / (high - low);
                        scaled = (1 - smooth) * scaled / factor + smooth * scaled;
                    }
                    invFreq[i] = (float) scaled;
                }
            }
            default -> {
            }
        }
        float[] cos = new float[seq * headDim];
        float[] sin = new float[seq * headDim];
        int half = headDim / 2;
        for (int i = 0; i < half; i++) {
            for (int t = 0; t < seq; t++) {
                float angle = t * invFreq[i];
                cos[t * headDim + i] = cos[t * headDim + i + half] = (float) Math.cos(angle);
                sin[t * headDim + i] = sin[t * headDim + i + half] = (float) Math.sin(angle);
            }
        }
        return new float[][]{cos, sin};
    }

    private static double number(Map<String, Object> scaling, String key) {
        if (!(scaling.get(key) instanceof Number n)) {
            throw new CrucibleException("rope scaling '" + scaling.get("rope_type") + "' needs a numeric '" + key + "'");
        }
        return n.doubleValue();
    }
}
