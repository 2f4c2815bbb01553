package dev.crucible.nn;

import dev.crucible.CrucibleException;
import dev.crucible.tensor.Parallel;
import dev.crucible.tensor.VectorMath;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/** The gating activation of a gated MLP: {@code out = act(gate) · up}. */
public enum Activation {
    SILU, GELU_TANH;

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2 / Math.PI);
    /** Rows per parallel task. */
    private static final int ROWS_PER_TASK = 16;

    /** The activation named by {@code hidden_act} / {@code hidden_activation} in config.json. */
    public static Activation parse(String name, String where) {
        return switch (name) {
            case "silu", "swish" -> SILU;
            case "gelu_pytorch_tanh", "gelu_new", "gelu_fast" -> GELU_TANH;
            default -> throw new CrucibleException(where + ": unsupported activation '" + name
                    + "' (supported: silu, gelu_pytorch_tanh)");
        };
    }

    /**
     * act(x) per lane: SiLU {@code x / (1 + e^-x)}; GeLU-tanh {@code x/2 · (1 + tanh(y))} with
     * {@code y = sqrt(2/π)·(x + 0.044715 x³)}, computed as the equal {@code x / (1 + e^-2y)}, which needs no tanh and
     * does not cancel for negative x.
     */
    private FloatVector apply(FloatVector x) {
        FloatVector z = this == SILU ? x : x.mul(x).fma(0.044715f, 1f).mul(x).mul(-2 * SQRT_2_OVER_PI);
        return x.div(VectorMath.exp(this == SILU ? x.neg() : z).add(1f));
    }

    /**
     * For each of {@code rows} rows of {@code gateUp} (gate at {@code gateOffset}, up at {@code upOffset}, row
     * width {@code stride}) writes {@code act(gate) · up} into {@code out} [rows, width]. Every element goes through the
     * same vector code (the row's last vector masked), so its value depends on nothing but its inputs.
     */
    public void gate(float[] gateUp, int stride, int gateOffset, int upOffset, int rows, int width, float[] out) {
        int tasks = (rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
        Parallel.forEach(tasks, 16L * rows * width, task -> {
            for (int r = task * ROWS_PER_TASK; r < Math.min(rows, (task + 1) * ROWS_PER_TASK); r++) {
                int g = r * stride + gateOffset;
                int u = r * stride + upOffset;
                for (int i = 0; i < width; i += F.length()) {
                    VectorMask<Float> m = F.indexInRange(i, width);
                    FloatVector act = apply(FloatVector.fromArray(F, gateUp, g + i, m));
                    act.mul(FloatVector.fromArray(F, gateUp, u + i, m)).intoArray(out, r * width + i, m);
                }
            }
        });
    }
}
