package dev.crucible.nn;

import dev.crucible.CrucibleException;

/** The gating activation of a gated MLP: {@code out = act(gate) · up}. */
public enum Activation {
    SILU, GELU_TANH;

    private static final double SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

    /** The activation named by {@code hidden_act} / {@code hidden_activation} in config.json. */
    public static Activation parse(String name, String where) {
        return switch (name) {
            case "silu", "swish" -> SILU;
            case "gelu_pytorch_tanh", "gelu_new", "gelu_fast" -> GELU_TANH;
            default -> throw new CrucibleException(where + ": unsupported activation '" + name
                    + "' (supported: silu, gelu_pytorch_tanh)");
        };
    }

    public float apply(float x) {
        return switch (this) {
            case SILU -> x / (1f + (float) Math.exp(-x));
            case GELU_TANH -> (float) (0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))));
        };
    }

    /**
     * For each of {@code rows} rows of {@code gateUp} (gate at {@code gateOffset}, up at {@code upOffset}, row
     * width {@code stride}) writes {@code act(gate) · up} into {@code out} [rows, width].
     */
    public void gate(float[] gateUp, int stride, int gateOffset, int upOffset, int rows, int width, float[] out) {
        for (int r = 0; r < rows; r++) {
            int base = r * stride;
            for (int i = 0; i < width; i++) {
                out[r * width + i] = apply(gateUp[base + gateOffset + i]) * gateUp[base + upOffset + i];
            }
        }
    }
}
