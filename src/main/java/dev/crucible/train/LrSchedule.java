package dev.crucible.train;

import dev.crucible.CrucibleException;

/**
 * Learning-rate multipliers as transformers' {@code get_*_schedule_with_warmup}: a linear ramp from 0 over the warmup
 * steps, then constant, linear decay to 0, or half a cosine to 0 at {@code totalSteps}. The rate for optimiser step
 * {@code k} (0-based) is {@code learning_rate · factor(k)}.
 */
public interface LrSchedule {
    double factor(long step);

    static LrSchedule of(String name, long warmupSteps, long totalSteps) {
        if (warmupSteps < 0 || totalSteps < 0) {
            throw new CrucibleException("warmup and total steps must be non-negative, got " + warmupSteps + " and " + totalSteps);
        }
        return switch (name) {
            case "constant", "constant_with_warmup" -> step -> step < warmupSteps ? warmup(step, warmupSteps) : 1.0;
            case "linear" -> step -> step < warmupSteps ? warmup(step, warmupSteps)
                    : Math.max(0.0, (double) (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
            case "cosine" -> step -> {
                if (step < warmupSteps) {
                    return warmup(step, warmupSteps);
                }
                double progress = (double) (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
                return Math.max(0.0, 0.5 * (1 + Math.cos(Math.PI * progress)));
            };
            default -> throw new CrucibleException("lr_scheduler '" + name + "' is not one of constant, linear, cosine");
        };
    }

    private static double warmup(long step, long warmupSteps) {
        return (double) step / Math.max(1, warmupSteps);
    }
}
