package dev.crucible.train;

import dev.crucible.io.Checkpoint;
import dev.crucible.io.ModelConfig;
import dev.crucible.io.ModelDirectory;
import dev.crucible.nn.LinearLayers;

import java.util.List;
import java.util.Locale;

/**
 * What a training run will hold in memory, estimated before anything is loaded (for {@code --dry-run}): the weights
 * (float32, with QLoRA's decoder linears in NF4), the trainable values' gradients and AdamW moments, the reference
 * model of preference training (a frozen copy for full fine-tuning without precomputation, the starting adapter's
 * copy for LoRA), the activations backward needs (every layer's, or one tensor per layer with gradient
 * checkpointing), and the logits with their gradient. The counts of weights and adapter parameters are exact (read
 * from the checkpoint's header and the adapter config); activations are a per-token, per-layer rule of thumb
 * (about 12 hidden-size and 4 intermediate-size float vectors), so the total is an estimate.
 */
public record MemoryEstimate(long weights, long trainableParameters, long optimizer, long reference, long activations,
                             long logits) {
    private static final double NF4_BYTES_PER_WEIGHT = 0.5 + 1.0 / 64 + 4.0 / (64 * 256);

    public long total() {
        return weights + optimizer + reference + activations + logits;
    }

    /**
     * @param preference null for supervised fine-tuning
     * @param rows       sequences in one forward (SFT: micro_batch_size; pairs: twice it)
     * @param seq        their padded length
     */
    public static MemoryEstimate of(ModelDirectory base, Trainer.Settings s, PreferenceObjective.Config preference,
                                    int rows, int seq) {
        ModelConfig c = base.config();
        try (Checkpoint ckpt = base.openCheckpoint()) {
            long all = 0;
            for (String name : ckpt.names()) {
                all += ckpt.info(name).numel();
            }
            long quantised = 0;
            long trainable = all;
            if (s.method() != Trainer.Method.FULL) {
                List<String> linear = LinearLayers.inDecoderLayers(ckpt);
                if (s.method() == Trainer.Method.QLORA || s.method() == Trainer.Method.QDORA) {
                    for (String m : linear) {
                        quantised += ckpt.info(m + ".weight").numel();
                    }
                }
                trainable = adapterParameters(ckpt, s, linear);
            }
            long weights = 4 * (all - quantised) + (long) (NF4_BYTES_PER_WEIGHT * quantised)
                    + (s.method() == Trainer.Method.FULL ? 0 : 4 * trainable);
            long reference = 0;
            if (preference != null && preference.method().usesReference() && !preference.precomputeReference()) {
                reference = s.method() == Trainer.Method.FULL ? 4 * all
                        : s.lora().initialAdapter() != null ? 4 * trainable : 0;
            }
            long tokens = (long) rows * seq;
            int layers = c.numHiddenLayers();
            long perTokenLayer = 4L * (12L * c.hiddenSize() + 4L * c.intOr("intermediate_size", 4 * c.hiddenSize()));
            long activations = s.gradientCheckpointing()
                    ? tokens * (4L * c.hiddenSize() * layers + perTokenLayer)
                    : tokens * layers * perTokenLayer;
            long logits = tokens * c.vocabSize() * 8L;
            return new MemoryEstimate(weights, trainable, 12 * trainable, reference, activations, logits);
        }
    }

    /** LoRA/DoRA parameters on the targeted linears (r · (in + out), + out for DoRA's magnitude), modules_to_save. */
    private static long adapterParameters(Checkpoint ckpt, Trainer.Settings s, List<String> linear) {
        Trainer.Lora l = s.lora();
        boolean dora = s.method() == Trainer.Method.DORA || s.method() == Trainer.Method.QDORA;
        LoraConfig config = l.initialAdapter() != null ? LoraConfig.read(l.initialAdapter())
                : l.targetsRegex() ? LoraConfig.createForRegex(l.r(), l.alpha(), l.dropout(), l.targetModules().get(0),
                        l.useRslora(), dora, l.modulesToSave())
                : LoraConfig.create(l.r(), l.alpha(), l.dropout(), l.targetModules(), l.useRslora(), dora, l.modulesToSave());
        long n = 0;
        for (String m : linear) {
            if (config.targets(m)) {
                long[] shape = ckpt.info(m + ".weight").shape();
                n += config.rank(m) * (shape[0] + shape[1]) + (dora ? shape[0] : 0);
            }
        }
        for (String name : ckpt.names()) {
            if (name.endsWith(".weight") && config.savesModule(name.substring(0, name.length() - ".weight".length()))) {
                n += ckpt.info(name).numel();
            }
        }
        return n;
    }

    /** One line: the total and its parts. */
    public String describe() {
        return String.format(Locale.ROOT, "about %s: weights %s, gradients and AdamW state of %,d trainable parameters %s,"
                        + "%s activations %s, logits %s", gib(total()), gib(weights), trainableParameters, gib(optimizer),
                reference > 0 ? " reference model " + gib(reference) + "," : "", gib(activations), gib(logits));
    }

    private static String gib(long bytes) {
        return bytes >= 1L << 30 ? String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30))
                : String.format(Locale.ROOT, "%.0f MiB", bytes / (double) (1L << 20));
    }
}
