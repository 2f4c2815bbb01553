package dev.crucible.train;

import dev.crucible.CrucibleException;
import dev.crucible.nn.DecoderTraining;

import java.util.Arrays;
import java.util.List;

/**
 * The reference model's summed completion log-probabilities for DPO, IPO and KTO: the model as training starts.
 * Either computed in every step by a reference forward ({@code model}: for LoRA the base with a frozen copy of the
 * starting adapter, or with no adapter when it starts at B = 0, sharing the base's weights; for full fine-tuning a
 * frozen copy of the weights), or precomputed once before training and kept per example (TRL's
 * {@code precompute_ref_log_probs}; for full fine-tuning computed by the policy itself before its first step, so no
 * second copy of the weights is ever held). Precomputed values travel with checkpoints, since the model that made
 * them no longer exists once training has moved.
 */
final class PreferenceReference {
    private DecoderTraining model;
    private final int padId;
    /** Two values per example (chosen and rejected, or row and KL row), NaN until computed; null without caching. */
    private float[] cache;

    private PreferenceReference(DecoderTraining model, int padId, float[] cache) {
        this.model = model;
        this.padId = padId;
        this.cache = cache;
    }

    /** A reference that runs {@code model} in every step. */
    static PreferenceReference everyStep(DecoderTraining model, int padId) {
        return new PreferenceReference(model, padId, null);
    }

    /** A reference precomputed by {@code model} before training ({@link #allocate} sizes it). */
    static PreferenceReference precomputed(DecoderTraining model, int padId) {
        return new PreferenceReference(model, padId, new float[0]);
    }

    boolean isPrecomputed() {
        return cache != null;
    }

    /** Room for {@code examples} examples (kept values stay when the count is the same, as after a resume). */
    void allocate(int examples) {
        if (restored && cache.length != 2 * examples) {
            throw new CrucibleException("the checkpoint's reference log-probabilities cover " + cache.length / 2
                    + " examples, this run has " + examples + " (another data set?)");
        }
        if (cache.length != 2 * examples) {
            cache = new float[2 * examples];
            Arrays.fill(cache, Float.NaN);
        }
    }

    /**
     * Computes and keeps the values of one micro-batch of examples {@code indices} whose sequences are {@code all}
     * (the first half one value per example, then the second half); for precomputation before training.
     */
    void precompute(int[] indices, List<PreferenceExample.Sequence> all) {
        if (model == null || restored) {
            throw new CrucibleException("the checkpoint has no reference log-probabilities for some examples of this"
                    + " run (another data set?), and the reference model is gone");
        }
        store(indices, PreferenceBatch.of(all, padId, 0).completionLogps(model));
    }

    /** Ends precomputation: the model (the policy itself for full fine-tuning) is not used again. */
    void finishPrecomputing() {
        model = null;
    }

    /** Whether every one of {@code indices} has its values. */
    boolean has(int[] indices) {
        for (int i : indices) {
            if (Float.isNaN(cache[2 * i]) || Float.isNaN(cache[2 * i + 1])) {
                return false;
            }
        }
        return true;
    }

    double[] completionLogps(int[] indices, List<PreferenceExample.Sequence> all) {
        int n = indices.length;
        if (cache == null) {
            return PreferenceBatch.of(all, padId, 0).completionLogps(model);
        }
        double[] out = new double[2 * n];
        for (int k = 0; k < n; k++) {
            if (Float.isNaN(cache[2 * indices[k]])) {
                throw new CrucibleException("no precomputed reference log-probabilities for example " + indices[k]);
            }
            out[k] = cache[2 * indices[k]];
            out[n + k] = cache[2 * indices[k] + 1];
        }
        return out;
    }

    private void store(int[] indices, double[] values) {
        int n = indices.length;
        for (int k = 0; k < n; k++) {
            cache[2 * indices[k]] = (float) values[k];
            cache[2 * indices[k] + 1] = (float) values[n + k];
        }
    }

    /** The precomputed values (NaN where none), for checkpoints. */
    float[] values() {
        return cache.clone();
    }

    /** Restores the values a checkpoint saved; {@link #allocate} then checks the example count. */
    void restore(float[] values) {
        cache = values.clone();
        restored = true;
    }

    /** After a restore the model may be the policy as it is now, no longer the reference: never run it. */
    private boolean restored;
}
