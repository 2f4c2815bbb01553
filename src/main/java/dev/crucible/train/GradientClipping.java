package dev.crucible.train;

import dev.crucible.autograd.Parameter;

import java.util.List;

/** {@code torch.nn.utils.clip_grad_norm_}: scale all gradients together so their global L2 norm is at most a limit. */
public final class GradientClipping {
    private GradientClipping() {
    }

    /** The global L2 norm of all gradients. */
    public static double globalNorm(List<Parameter> params) {
        double sq = 0;
        for (Parameter p : params) {
            for (float g : p.grad()) {
                sq += (double) g * g;
            }
        }
        return Math.sqrt(sq);
    }

    /**
     * Multiplies every gradient by {@code min(1, maxNorm / (norm + 1e-6))}, as torch does, and returns the norm
     * before clipping (what trainers log as {@code grad_norm}).
     */
    public static double clip(List<Parameter> params, double maxNorm) {
        double norm = globalNorm(params);
        float coef = (float) Math.min(1.0, maxNorm / (norm + 1e-6));
        if (coef < 1f) {
            for (Parameter p : params) {
                float[] g = p.grad();
                for (int i = 0; i < g.length; i++) {
                    g[i] *= coef;
                }
            }
        }
        return norm;
    }
}
