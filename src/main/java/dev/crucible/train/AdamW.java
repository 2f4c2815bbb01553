package dev.crucible.train;

import dev.crucible.autograd.Parameter;
import dev.crucible.tensor.Parallel;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * AdamW exactly as {@code torch.optim.AdamW} computes it on the CPU, float32 op by op: decoupled weight decay
 * {@code p *= 1 - lr·wd}, moments {@code m = lerp(m, g, 1-β1)} and {@code v = v·β2 + (1-β2)·g²}, then
 * {@code p -= lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + eps)} (eps outside the square root). Weight decay applies to
 * the parameters the {@code decayed} predicate selects by name: all of them for plain torch AdamW, or those of
 * {@link #decayedByHfTrainer} to match the two parameter groups the Hugging Face Trainer (and so Axolotl and TRL)
 * builds.
 */
public final class AdamW {
    /** The per-parameter state torch keeps: step count and the two moment estimates. */
    public static final class State {
        long step;
        final float[] expAvg;
        final float[] expAvgSq;

        State(int size) {
            expAvg = new float[size];
            expAvgSq = new float[size];
        }

        public long step() {
            return step;
        }

        public float[] expAvg() {
            return expAvg;
        }

        public float[] expAvgSq() {
            return expAvgSq;
        }
    }

    private final double beta1;
    private final double beta2;
    private final double eps;
    private final double weightDecay;
    private final Predicate<String> decayed;
    private final Map<Parameter, State> state = new IdentityHashMap<>();

    /** torch's AdamW with one parameter group: every parameter is decayed. */
    public AdamW(double beta1, double beta2, double eps, double weightDecay) {
        this(beta1, beta2, eps, weightDecay, name -> true);
    }

    /** {@code decayed} picks, by parameter name, the parameters that weight decay applies to. */
    public AdamW(double beta1, double beta2, double eps, double weightDecay, Predicate<String> decayed) {
        if (beta1 < 0 || beta1 >= 1 || beta2 < 0 || beta2 >= 1 || eps < 0 || weightDecay < 0) {
            throw new IllegalArgumentException("AdamW needs 0 <= betas < 1 and non-negative eps and weight decay");
        }
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.decayed = decayed;
    }

    /**
     * The names transformers' {@code Trainer.get_decay_parameter_names} forbids, searched in the lower-cased
     * parameter name: biases and every kind of norm weight ({@code input_layernorm}, {@code model.norm},
     * {@code q_norm}, ...). The Trainer also excludes parameters inside {@code nn.LayerNorm} modules; every norm of
     * the architectures Crucible trains is an RMSNorm, which the Trainer excludes by these names alone.
     */
    private static final List<Pattern> NO_DECAY = List.of(Pattern.compile("bias"), Pattern.compile("layernorm"),
            Pattern.compile("rmsnorm"), Pattern.compile("(?:^|\\.)norm(?:$|\\.)"), Pattern.compile("_norm(?:$|\\.)"));

    /**
     * Whether the Hugging Face Trainer puts the parameter named {@code name} (its {@code named_parameters()} name, as
     * PEFT reports it for adapters) in its weight-decay group.
     */
    public static boolean decayedByHfTrainer(String name) {
        String lower = name.toLowerCase(Locale.ROOT);
        for (Pattern p : NO_DECAY) {
            if (p.matcher(lower).find()) {
                return false;
            }
        }
        return true;
    }

    /** torch's defaults: betas (0.9, 0.999), eps 1e-8, weight decay 0.01. */
    public static AdamW withDefaults() {
        return new AdamW(0.9, 0.999, 1e-8, 0.01);
    }

    /** The optimiser state of {@code p}, created on its first step. */
    public State state(Parameter p) {
        return state.computeIfAbsent(p, k -> new State(k.size()));
    }

    /** Restores a parameter's state from a checkpoint (its moments are copied). */
    public void restore(Parameter p, long step, float[] expAvg, float[] expAvgSq) {
        if (expAvg.length != p.size() || expAvgSq.length != p.size()) {
            throw new IllegalArgumentException(p.name() + ": optimiser state of " + expAvg.length + " values for " + p.size());
        }
        State s = state(p);
        s.step = step;
        System.arraycopy(expAvg, 0, s.expAvg, 0, expAvg.length);
        System.arraycopy(expAvgSq, 0, s.expAvgSq, 0, expAvgSq.length);
    }

    /** One update of every parameter with learning rate {@code lr}, from the gradients they hold. */
    public void step(List<Parameter> params, double lr) {
        float withDecay = (float) (1 - lr * weightDecay);
        float oneMinusBeta1 = (float) (1 - beta1);
        float b2 = (float) beta2;
        float oneMinusBeta2 = (float) (1 - beta2);
        float epsF = (float) eps;
        for (Parameter p : params) {
            State s = state(p);
            s.step++;
            double biasCorrection1 = 1 - Math.pow(beta1, s.step);
            float biasCorrection2Sqrt = (float) Math.sqrt(1 - Math.pow(beta2, s.step));
            float negStepSize = (float) (-(lr / biasCorrection1));
            float[] w = p.data();
            float[] g = p.grad();
            float[] m = s.expAvg;
            float[] v = s.expAvgSq;
            float decay = decayed.test(p.name()) ? withDecay : 1f;
            // element-wise, so splitting the range over threads gives the same values
            int chunks = (w.length + CHUNK - 1) / CHUNK;
            Parallel.forEach(chunks, 8L * w.length, c -> {
                for (int i = c * CHUNK, end = Math.min(w.length, i + CHUNK); i < end; i++) {
                    w[i] = w[i] * decay;
                    m[i] = lerp(m[i], g[i], oneMinusBeta1);
                    v[i] = v[i] * b2 + oneMinusBeta2 * g[i] * g[i];
                    float denom = (float) Math.sqrt(v[i]) / biasCorrection2Sqrt + epsF;
                    w[i] = w[i] + negStepSize * m[i] / denom;
                }
            });
        }
    }

    private static final int CHUNK = 1 << 16;

    /** ATen's lerp: from the nearer end, so that weight 0 and 1 are exact. */
    private static float lerp(float self, float end, float weight) {
        return Math.abs(weight) < 0.5f ? self + weight * (end - self) : end - (end - self) * (1 - weight);
    }
}
