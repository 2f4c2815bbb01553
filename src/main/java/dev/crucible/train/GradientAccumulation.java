package dev.crucible.train;

import dev.crucible.autograd.Parameter;

import java.util.List;

/**
 * Gradient accumulation with the loss averaged over every loss token of the accumulated micro-batches (as
 * transformers does since 4.46), not a mean of per-micro-batch means: each micro-batch backpropagates the SUM of
 * its token losses into the parameters' gradients, and {@link #finish} divides by the total token count. Micro
 * batches with different numbers of unmasked tokens are then weighted exactly as one big batch would be.
 */
public final class GradientAccumulation {
    private final int steps;
    private int micro;
    private long tokens;

    public GradientAccumulation(int steps) {
        if (steps < 1) {
            throw new IllegalArgumentException("gradient_accumulation_steps must be at least 1, got " + steps);
        }
        this.steps = steps;
    }

    /** Records a micro-batch whose summed loss covered {@code lossTokens} tokens; true when an optimiser step is due. */
    public boolean record(long lossTokens) {
        micro++;
        tokens += lossTokens;
        return micro == steps;
    }

    /** Micro-batches recorded since the last {@link #finish}. */
    public int pending() {
        return micro;
    }

    /** Turns the summed gradients into the token mean, resets the counters and returns the token count. */
    public long finish(List<Parameter> params) {
        long n = tokens;
        if (n > 0) {
            float inv = 1f / n;
            for (Parameter p : params) {
                float[] g = p.grad();
                for (int i = 0; i < g.length; i++) {
                    g[i] *= inv;
                }
            }
        }
        micro = 0;
        tokens = 0;
        return n;
    }
}
