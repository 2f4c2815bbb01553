package dev.crucible.gguf;

/**
 * The {@code rope_freqs} tensor llama.cpp's converter computes for llama3 rope scaling: per frequency 1 (short
 * wavelengths), the scaling factor (long ones), or the smooth blend between, in float32 as its torch code does
 * ({@code 2π / f} and {@code c / w} are torch's reciprocal-then-multiply).
 */
final class RopeFreqs {
    private RopeFreqs() {
    }

    static float[] llama3(double base, int dim, float factor, double lowFreqFactor, double highFreqFactor,
                          double oldContext) {
        double lowFreqWavelen = oldContext / lowFreqFactor;
        double highFreqWavelen = oldContext / highFreqFactor;
        float[] out = new float[(dim + 1) / 2];
        for (int k = 0; k < out.length; k++) {
            float exponent = (float) (2 * k) / dim;
            float freq = 1.0f / (float) Math.pow((float) base, exponent);
            float wavelen = (1.0f / freq) * (float) (2 * Math.PI);
            if (wavelen < highFreqWavelen) {
                out[k] = 1;
            } else if (wavelen > lowFreqWavelen) {
                out[k] = factor;
            } else {
                float smooth = ((1.0f / wavelen) * (float) oldContext - (float) lowFreqFactor)
                        / (float) (highFreqFactor - lowFreqFactor);
                float blend = (1 - smooth) / factor + smooth;
                out[k] = 1.0f / blend;
            }
        }
        return out;
    }
}
