package dev.crucible.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.data.Batches;
import dev.crucible.data.PackedSequence;
import dev.crucible.data.PreferenceExample;
import dev.crucible.CrucibleException;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.ModelConfig;
import dev.crucible.io.ModelDirectory;
import dev.crucible.io.SafetensorsFile;
import dev.crucible.io.SafetensorsWriter;
import dev.crucible.io.StagedDirectory;
import dev.crucible.nn.DecoderTraining;
import dev.crucible.autograd.FrozenWeight;
import dev.crucible.autograd.LoraOps;
import dev.crucible.autograd.Parameter;
import dev.crucible.autograd.Var;
import dev.crucible.peft.LoraAdapter;
import dev.crucible.peft.LoraConfig;
import dev.crucible.peft.LoraModule;
import dev.crucible.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * The training loop every method shares: the model being trained (full fine-tuning, LoRA, DoRA, QLoRA = LoRA over an
 * NF4 base, QDoRA = DoRA over an NF4 base), micro-batches with gradient accumulation, global-norm clipping, AdamW
 * with a warmup schedule, resumable checkpoints, {@code metrics.jsonl}, {@code loss.html} and the final PEFT adapter
 * or full model. What a step minimises is its {@link Objective}: supervised fine-tuning ({@link #sft}, examples
 * {@link PackedSequence}) or a preference method ({@link #preference}, examples {@link PreferenceExample}).
 * Every step is a pure function of the seed, the step number and the saved state, so training resumed from a
 * checkpoint continues exactly the curve it left.
 *
 * @param <E> the examples the objective trains on
 */
public final class Trainer<E> implements AutoCloseable {
    /** FULL trains every weight; the others train an adapter, DoRA ones with a magnitude, QLoRA ones over NF4. */
    public enum Method {
        FULL, LORA, DORA, QLORA, QDORA;

        boolean dora() {
            return this == DORA || this == QDORA;
        }

        boolean nf4Base() {
            return this == QLORA || this == QDORA;
        }
    }

    /**
     * The adapter to train: rank, alpha, dropout, target modules ("all-linear", module-name suffixes, or with
     * {@code targetsRegex} one regular expression that must match whole module paths, as PEFT reads a string),
     * rsLoRA, {@code modulesToSave} (modules trained in full next to the adapter, PEFT's {@code modules_to_save}) and
     * {@code initialAdapter}: a PEFT adapter directory to continue training (Axolotl's {@code lora_model_dir}), whose
     * own config then replaces rank, alpha, dropout, targets, rsLoRA and modules to save.
     */
    public record Lora(int r, double alpha, double dropout, List<String> targetModules, boolean targetsRegex,
                       boolean useRslora, List<String> modulesToSave, Path initialAdapter) {
        public Lora {
            targetModules = List.copyOf(targetModules);
            modulesToSave = List.copyOf(modulesToSave);
            if (targetsRegex && targetModules.size() != 1) {
                throw new IllegalArgumentException("a target regex is one pattern");
            }
        }

        public Lora(int r, double alpha, double dropout, List<String> targetModules, boolean useRslora) {
            this(r, alpha, dropout, targetModules, false, useRslora, List.of(), null);
        }

        /** The PEFT config of a fresh adapter with these settings ({@code initialAdapter} brings its own). */
        public LoraConfig freshConfig(boolean dora) {
            return targetsRegex ? LoraConfig.createForRegex(r, alpha, dropout, targetModules.get(0), useRslora, dora, modulesToSave)
                    : LoraConfig.create(r, alpha, dropout, targetModules, useRslora, dora, modulesToSave);
        }
    }

    /** AdamW and its schedule, with the Hugging Face Trainer's names and defaults in {@link #of}. */
    public record Optimizer(double learningRate, String lrScheduler, int warmupSteps, double weightDecay, double beta1,
                            double beta2, double epsilon, double maxGradNorm) {
        /** betas 0.9/0.999 and eps 1e-8, as TrainingArguments defaults them. */
        public static Optimizer of(double learningRate, String lrScheduler, int warmupSteps, double weightDecay,
                                   double maxGradNorm) {
            return new Optimizer(learningRate, lrScheduler, warmupSteps, weightDecay, 0.9, 0.999, 1e-8, maxGradNorm);
        }
    }

    /**
     * One run: {@code lora} is null for full fine-tuning. Steps are optimiser steps; {@code saveSteps},
     * {@code evalSteps} 0 = never (the last step always evaluates); {@code loggingSteps}: metrics rows every that many
     * steps, the loss averaged over them; {@code saveTotalLimit} 0 = keep every checkpoint.
     */
    public record Settings(Method method, Lora lora, Optimizer optimizer, int microBatchSize,
                           int gradientAccumulationSteps, int sequenceLen, boolean padToSequenceLen, int maxSteps,
                           boolean gradientCheckpointing, long seed, int saveSteps, int evalSteps, int loggingSteps,
                           int saveTotalLimit) {
        public Settings {
            if ((method == Method.FULL) != (lora == null)) {
                throw new IllegalArgumentException("full fine-tuning takes no LoRA settings; the adapter methods need them");
            }
        }
    }

    /**
     * What one optimiser step did; {@code evalLoss} is NaN when no evaluation ran at that step; {@code metrics} are
     * the objective's own (a preference method's rewards, under TRL's names), averaged over the step's micro-batches.
     */
    public record StepMetrics(int step, int totalSteps, double loss, double learningRate, double gradNorm, long tokens,
                              double tokensPerSecond, double evalLoss, Map<String, Double> metrics) {
    }

    public interface Listener {
        void onStep(StepMetrics metrics);

        /** A line for the user about the output directory (a checkpoint removed, ...). */
        default void onNote(String note) {
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String METRICS_FILE = "metrics.jsonl";

    private final Settings settings;
    private final ModelDirectory base;
    private final ModelConfig config;
    private final Checkpoint checkpoint;
    private final DecoderTraining model;
    /** The model's tensors by name: trainable for full fine-tuning, the frozen base (and modules_to_save) otherwise. */
    private final Map<String, Var> weights;
    private final Map<String, FrozenWeight> frozen = new LinkedHashMap<>();
    private final List<Parameter> parameters = new ArrayList<>();
    private final LoraAdapter adapter;
    private final AdamW optimizer;
    private final long frozenBaseBytes;
    private final Objective<E> objective;
    private final ArrayNode history = JSON.createArrayNode();
    private int step;
    private long orderEpoch = -1;
    private int[] order = new int[0];

    /** Supervised fine-tuning of the model in {@code baseDir}. */
    public static Trainer<PackedSequence> sft(Path baseDir, Settings settings) {
        return sft(ModelDirectory.open(baseDir), settings);
    }

    /** Padding takes {@link Batches#padId(ModelDirectory) the pad id of base's tokenizer}. */
    public static Trainer<PackedSequence> sft(ModelDirectory base, Settings settings) {
        return sft(base, settings, Batches.padId(base));
    }

    /**
     * {@code base} may carry special-token overrides ({@code special_tokens}): the saved tokenizer files get them.
     * {@code padId}: {@link Batches#padId(dev.crucible.model.Tokenizer)} of the tokenizer the data was read with.
     */
    public static Trainer<PackedSequence> sft(ModelDirectory base, Settings settings, int padId) {
        return new Trainer<>(base, settings, t -> new SftObjective(t.model, t.settings, padId));
    }

    /** Preference training ({@code rl:}) of the model in {@code base}; see {@link PreferenceObjective}. */
    public static Trainer<PreferenceExample> preference(ModelDirectory base, Settings settings,
                                                        PreferenceObjective.Config preference) {
        return preference(base, settings, preference, Batches.padId(base));
    }

    /** As {@link #preference(ModelDirectory, Settings, PreferenceObjective.Config)} with the pad id of the data's tokenizer. */
    public static Trainer<PreferenceExample> preference(ModelDirectory base, Settings settings,
                                                        PreferenceObjective.Config preference, int padId) {
        return new Trainer<>(base, settings, t -> t.preferenceObjective(preference, padId));
    }

    private Trainer(ModelDirectory base, Settings settings, java.util.function.Function<Trainer<E>, Objective<E>> objective) {
        if (settings.microBatchSize() < 1 || settings.gradientAccumulationSteps() < 1 || settings.sequenceLen() < 2
                || settings.maxSteps() < 1 || settings.loggingSteps() < 1
                || (long) settings.microBatchSize() * settings.sequenceLen() > Integer.MAX_VALUE) {
            throw new CrucibleException("micro_batch_size, gradient_accumulation_steps, max_steps and logging_steps must"
                    + " be at least 1, sequence_len at least 2, and micro_batch_size × sequence_len at most "
                    + Integer.MAX_VALUE);
        }
        try { // the example stream is indexed by a long: step × accumulation × micro-batch must fit
            Math.multiplyExact(Math.multiplyExact((long) settings.maxSteps(), settings.gradientAccumulationSteps()),
                    settings.microBatchSize());
        } catch (ArithmeticException e) {
            throw new CrucibleException("max_steps × gradient_accumulation_steps × micro_batch_size is too large", e);
        }
        this.settings = settings;
        this.base = base;
        this.config = base.config();
        this.checkpoint = base.openCheckpoint();
        try {
            double dropout = 0;
            if (settings.method() == Method.FULL) {
                weights = DecoderTraining.loadWeights(checkpoint, true, parameters);
                adapter = null;
            } else {
                if (settings.method().nf4Base()) {
                    frozen.putAll(DecoderTraining.quantizeLayerLinears(checkpoint));
                }
                adapter = initialAdapter(settings, frozen);
                dropout = settings.lora().initialAdapter() != null ? adapter.config().loraDropout() : settings.lora().dropout();
                Set<String> skip = new HashSet<>(adapter.savedTensors().keySet());
                for (String saved : adapter.savedTensors().keySet()) {
                    frozen.remove(saved.substring(0, saved.lastIndexOf('.'))); // trained in full, so not NF4
                }
                frozen.keySet().forEach(m -> skip.add(m + ".weight"));
                weights = DecoderTraining.loadWeights(checkpoint, false, null, skip);
            }
            long bytes = 0;
            for (FrozenWeight w : frozen.values()) {
                bytes += ((FrozenWeight.Nf4) w).w().byteSize();
            }
            for (Var w : weights.values()) {
                bytes += w.requiresGrad() ? 0 : 4L * w.size();
            }
            this.frozenBaseBytes = bytes;
            Map<String, LoraOps.Adapter> adapters = adapterVars(dropout);
            if (adapter != null) {
                adapter.savedTensors().forEach((name, t) -> {
                    Parameter p = new Parameter(LoraAdapter.savedTensorParameterName(name), t.values(), t.shape());
                    parameters.add(p);
                    weights.put(name, Var.of(p));
                });
            }
            this.model = new DecoderTraining(config, weights, frozen, adapters)
                    .gradientCheckpointing(settings.gradientCheckpointing());
            Optimizer o = settings.optimizer();
            this.optimizer = new AdamW(o.beta1(), o.beta2(), o.epsilon(), o.weightDecay(), AdamW::decayedByHfTrainer);
            this.objective = objective.apply(this);
        } catch (RuntimeException e) {
            checkpoint.close();
            throw e;
        }
    }

    /**
     * The preference objective over this model, with its reference: none for ORPO and SimPO; for DPO, IPO and KTO the
     * model as training starts, precomputed or run every step (see {@link PreferenceReference}).
     */
    private Objective<E> preferenceObjective(PreferenceObjective.Config c, int pad) {
        PreferenceReference reference = null;
        if (c.method().usesReference()) {
            // precomputed, full fine-tuning's reference is the policy itself before its first step
            reference = c.precomputeReference()
                    ? PreferenceReference.precomputed(adapter == null ? model : referenceModel(), pad)
                    : PreferenceReference.everyStep(referenceModel(), pad);
        }
        @SuppressWarnings("unchecked")
        Objective<E> o = (Objective<E>) new PreferenceObjective(c, model, reference, pad,
                settings.sequenceLen(), settings.microBatchSize());
        return o;
    }

    /**
     * The model as training starts, frozen: for full fine-tuning a copy of every weight (twice the weights' memory,
     * hence precomputing is full fine-tuning's default); for an adapter the same base tensors (shared, not copied)
     * with a frozen copy of the starting adapter and of modules_to_save, or no adapter at all when it starts at B = 0
     * (a fresh adapter adds nothing, exactly as PEFT's disabled adapter).
     */
    private DecoderTraining referenceModel() {
        Map<String, Var> ref = new LinkedHashMap<>();
        weights.forEach((name, w) -> ref.put(name, w.requiresGrad() ? Var.constant(w.value().clone(), w.shape()) : w));
        Map<String, LoraOps.Adapter> adapters = new LinkedHashMap<>();
        if (adapter != null && settings.lora().initialAdapter() != null) {
            for (LoraModule m : adapter.modules().values()) {
                adapters.put(m.path(), new LoraOps.Adapter(Var.constant(m.a().clone(), m.r(), m.in()),
                        Var.constant(m.b().clone(), m.out(), m.r()),
                        m.isDora() ? Var.constant(m.magnitude().clone(), m.out()) : null, m.scaling(), 0));
            }
        }
        return new DecoderTraining(config, ref, frozen, adapters);
    }

    /**
     * A fresh adapter on the targets, or the adapter of {@code lora_model_dir} (checked against the base), whose DoRA
     * setting must agree with the method's.
     */
    private LoraAdapter initialAdapter(Settings settings, Map<String, FrozenWeight> frozen) {
        Lora l = settings.lora();
        if (l.initialAdapter() == null) {
            return LoraInit.create(l.freshConfig(settings.method().dora()), checkpoint, settings.seed(), frozen);
        }
        LoraAdapter loaded = LoraAdapter.load(l.initialAdapter(), checkpoint);
        if (loaded.config().useDora() != settings.method().dora()) {
            throw new CrucibleException("lora_model_dir " + l.initialAdapter() + " holds a "
                    + (loaded.config().useDora() ? "DoRA" : "LoRA") + " adapter, but the config trains "
                    + settings.method().name().toLowerCase(Locale.ROOT) + (loaded.config().useDora()
                    ? " (set peft_use_dora: true)" : " (remove peft_use_dora / use adapter: lora or qlora)"));
        }
        return loaded.withBaseModel(null);
    }

    private Map<String, LoraOps.Adapter> adapterVars(double dropout) {
        Map<String, LoraOps.Adapter> out = new LinkedHashMap<>();
        if (adapter == null) {
            return out;
        }
        for (LoraModule m : adapter.modules().values()) {
            Parameter a = new Parameter(LoraAdapter.parameterName(m.path(), LoraAdapter.Part.A), m.a(), m.r(), m.in());
            Parameter b = new Parameter(LoraAdapter.parameterName(m.path(), LoraAdapter.Part.B), m.b(), m.out(), m.r());
            parameters.add(a);
            parameters.add(b);
            Var magnitude = null;
            if (m.isDora()) {
                Parameter mag = new Parameter(LoraAdapter.parameterName(m.path(), LoraAdapter.Part.MAGNITUDE), m.magnitude(), m.out());
                parameters.add(mag);
                magnitude = Var.of(mag);
            }
            out.put(m.path(), new LoraOps.Adapter(Var.of(a), Var.of(b), magnitude, m.scaling(), dropout));
        }
        return out;
    }

    public List<Parameter> parameters() {
        return parameters;
    }

    /** The adapter being trained (null for full fine-tuning). */
    public LoraAdapter adapter() {
        return adapter;
    }

    /** Bytes held by the frozen base weights (float32 copies, or NF4 for QLoRA's linear layers). */
    public long frozenBaseBytes() {
        return frozenBaseBytes;
    }

    public int step() {
        return step;
    }

    /** The objective, for this package's tests (one micro-batch's gradients against the reference tools'). */
    Objective<E> objective() {
        return objective;
    }

    /**
     * Continues from a {@code checkpoint-N} directory: trainable values, optimiser state, step and log history. A
     * checkpoint of another method, adapter shape or base model is refused with the setting that differs; changed
     * training settings (learning rate, steps, ...) are allowed and returned as notes, one line each.
     */
    public List<String> resume(Path checkpointDir) {
        if (!Files.isDirectory(checkpointDir)) {
            throw new CrucibleException("resume_from_checkpoint: " + checkpointDir + " does not exist");
        }
        if (!TrainingCheckpoints.isCheckpoint(checkpointDir)) {
            throw new CrucibleException("resume_from_checkpoint: " + checkpointDir + " is not a Crucible checkpoint (no "
                    + TrainingCheckpoints.STATE_FILE + " and " + TrainingCheckpoints.PARAMS_FILE + ")");
        }
        JsonNode state = readJson(checkpointDir.resolve(TrainingCheckpoints.STATE_FILE));
        List<String> notes = ResumeCheck.compare(checkpointDir, state, describe());
        try (SafetensorsFile params = SafetensorsFile.open(checkpointDir.resolve(TrainingCheckpoints.PARAMS_FILE));
             SafetensorsFile opt = SafetensorsFile.open(checkpointDir.resolve(TrainingCheckpoints.OPTIMIZER_FILE))) {
            for (Parameter p : parameters) { // all shapes first, so a mismatch leaves the values untouched
                if (!params.contains(p.name())) {
                    throw new CrucibleException("cannot resume from " + checkpointDir + ": it has no value for '" + p.name()
                            + "' (it was made with another method, target modules or modules_to_save)");
                }
                long[] saved = params.info(p.name()).shape();
                if (!java.util.Arrays.equals(saved, p.shape())) {
                    throw new CrucibleException("cannot resume from " + checkpointDir + ": '" + p.name() + "' is "
                            + dev.crucible.tensor.Shape.toString(saved) + " there but " + dev.crucible.tensor.Shape.toString(p.shape())
                            + " in this run (another lora_r or base model?)");
                }
            }
            for (Parameter p : parameters) {
                params.tensor(p.name()).readFloats(0, p.data(), 0, p.size());
                optimizer.restore(p, state.path("optimizer_step").asLong(),
                        opt.tensor("exp_avg." + p.name()).toFloatArray(), opt.tensor("exp_avg_sq." + p.name()).toFloatArray());
            }
        }
        objective.restore(checkpointDir, state);
        step = state.path("global_step").asInt();
        history.removeAll();
        state.path("log_history").forEach(history::add);
        return notes;
    }

    /** What this run is, as recorded in each checkpoint's {@code trainer_state.json} and compared on resume. */
    private ObjectNode describe() {
        ObjectNode d = JSON.createObjectNode();
        d.put("method", settings.method().name().toLowerCase(Locale.ROOT));
        d.put("objective", objective.name());
        d.put("base_model", base.path().toAbsolutePath().normalize().toString());
        d.put("base_config_sha256", sha256(base.path().resolve(ModelDirectory.CONFIG)));
        if (adapter != null) {
            LoraConfig lc = adapter.config();
            ObjectNode a = d.putObject("adapter");
            a.put("r", lc.r());
            a.put("lora_alpha", lc.loraAlpha());
            a.put("use_rslora", lc.useRslora());
            a.put("use_dora", lc.useDora());
            a.set("rank_pattern", lc.json().path("rank_pattern"));
            a.set("alpha_pattern", lc.json().path("alpha_pattern"));
            ArrayNode modules = a.putArray("modules");
            adapter.modules().keySet().forEach(modules::add);
            ArrayNode save = a.putArray("modules_to_save");
            adapter.savedTensors().keySet().forEach(save::add);
        }
        ObjectNode t = d.putObject("training");
        Optimizer o = settings.optimizer();
        t.put("micro_batch_size", settings.microBatchSize());
        t.put("gradient_accumulation_steps", settings.gradientAccumulationSteps());
        t.put("sequence_len", settings.sequenceLen());
        t.put("max_steps", settings.maxSteps());
        t.put("learning_rate", o.learningRate());
        t.put("lr_scheduler", o.lrScheduler());
        t.put("warmup_steps", o.warmupSteps());
        t.put("weight_decay", o.weightDecay());
        t.put("adam_beta1", o.beta1());
        t.put("adam_beta2", o.beta2());
        t.put("adam_epsilon", o.epsilon());
        t.put("max_grad_norm", o.maxGradNorm());
        t.put("seed", settings.seed());
        if (adapter != null) {
            t.put("lora_dropout", settings.lora().dropout());
        }
        t.setAll(objective.describe());
        return d;
    }

    private static String sha256(Path file) {
        try {
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                    .digest(Files.readAllBytes(file)));
        } catch (IOException e) {
            throw new CrucibleException(file + ": cannot read: " + e.getMessage(), e);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The objective's evaluation of {@code examples} without training: {@code eval_loss} and its other metrics. */
    public Map<String, Double> evaluate(List<E> examples) {
        return objective.evaluate(examples, settings.microBatchSize());
    }

    /**
     * Trains until {@code max_steps}, writing metrics, checkpoints and the final model into {@code outputDir}. A fresh
     * run starts {@code metrics.jsonl} anew and removes the checkpoints an earlier run left there; a resumed run
     * rewrites {@code metrics.jsonl} from the checkpoint's log (dropping rows of steps it repeats) and removes the
     * later checkpoints of the run it replaces. Only Crucible's own checkpoints are touched (see
     * {@link TrainingCheckpoints}).
     */
    public void train(List<E> train, List<E> validation, Path outputDir, Listener listener) {
        if (train.isEmpty()) {
            throw new CrucibleException("the training set is empty");
        }
        Listener events = listener != null ? listener : m -> { };
        try {
            Files.createDirectories(outputDir);
        } catch (IOException e) {
            throw new CrucibleException(outputDir + ": cannot create: " + e.getMessage(), e);
        }
        TrainingCheckpoints.removeAfter(outputDir, step, events::onNote);
        writeMetrics(outputDir);
        objective.prepare(train, validation);
        Optimizer o = settings.optimizer();
        LrSchedule schedule = LrSchedule.of(o.lrScheduler(), o.warmupSteps(), settings.maxSteps());
        GradientAccumulation accumulation = new GradientAccumulation(settings.gradientAccumulationSteps());
        LogWindow window = new LogWindow();
        while (step < settings.maxSteps()) {
            long start = System.nanoTime();
            double lossSum = 0;
            long inputTokens = 0;
            long tokens = 0;
            MetricSums stepMetrics = new MetricSums();
            for (int micro = 0; micro < settings.gradientAccumulationSteps(); micro++) {
                long index = (long) step * settings.gradientAccumulationSteps() + micro;
                int[] indices = microBatch(index, train.size());
                List<E> examples = new ArrayList<>(indices.length);
                for (int i : indices) {
                    examples.add(train.get(i));
                }
                SplittableRandom dropout = new SplittableRandom(settings.seed() * 1_000_003L + index * settings.microBatchSize());
                Objective.MicroBatch mb = objective.train(examples, indices, dropout);
                lossSum += mb.loss() * mb.weight();
                inputTokens += mb.inputTokens();
                tokens += mb.tokens();
                stepMetrics.add(mb.metrics());
                accumulation.record(mb.weight());
            }
            long weight = accumulation.finish(parameters);
            double gradNorm = o.maxGradNorm() > 0 ? GradientClipping.clip(parameters, o.maxGradNorm())
                    : GradientClipping.globalNorm(parameters);
            double lr = o.learningRate() * schedule.factor(step);
            optimizer.step(parameters, lr);
            parameters.forEach(Parameter::zeroGrad);
            step++;
            double seconds = (System.nanoTime() - start) / 1e9;
            boolean evalNow = !validation.isEmpty() && (step == settings.maxSteps()
                    || (settings.evalSteps() > 0 && step % settings.evalSteps() == 0));
            Map<String, Double> eval = evalNow ? evaluate(validation) : Map.of();
            StepMetrics m = new StepMetrics(step, settings.maxSteps(), weight == 0 ? Double.NaN : lossSum / weight, lr,
                    gradNorm, tokens, inputTokens / Math.max(seconds, 1e-9), eval.getOrDefault("eval_loss", Double.NaN),
                    stepMetrics.means());
            window.add(m, inputTokens, seconds, stepMetrics, eval);
            if (step % settings.loggingSteps() == 0 || evalNow || step == settings.maxSteps()) {
                log(outputDir, window.row(m));
                window = new LogWindow();
            }
            events.onStep(m);
            if (settings.saveSteps() > 0 && step % settings.saveSteps() == 0 && step < settings.maxSteps()) {
                saveCheckpoint(outputDir.resolve(TrainingCheckpoints.name(step)));
                TrainingCheckpoints.rotate(outputDir, settings.saveTotalLimit(), events::onNote);
            }
        }
        LossChart.write(outputDir.resolve("loss.html"), history, objective.chartMetrics());
        saveFinal(outputDir);
    }

    /**
     * The examples of micro-batch {@code index}: for most objectives the next micro_batch_size of an endless stream,
     * each epoch in its own seeded shuffle; for a sequential objective (KTO, whose KL estimate pairs neighbours) the
     * data set's consecutive chunks of micro_batch_size in order, the last of an epoch possibly shorter, as TRL's
     * sequential sampler batches them.
     */
    private int[] microBatch(long index, int n) {
        int size = settings.microBatchSize();
        if (objective.sequential()) {
            int chunks = (n + size - 1) / size;
            int c = (int) (index % chunks);
            int from = c * size;
            int[] out = new int[Math.min(size, n - from)];
            for (int k = 0; k < out.length; k++) {
                out[k] = from + k;
            }
            return out;
        }
        int[] out = new int[size];
        for (int k = 0; k < size; k++) {
            out[k] = streamIndex(index * size + k, n);
        }
        return out;
    }

    /** Sums and counts of metrics by name, for means over micro-batches (each metric over those that reported it). */
    private static final class MetricSums {
        private final Map<String, double[]> sums = new LinkedHashMap<>();

        void add(Map<String, Double> metrics) {
            metrics.forEach((k, v) -> {
                double[] s = sums.computeIfAbsent(k, x -> new double[2]);
                s[0] += v;
                s[1]++;
            });
        }

        void add(MetricSums other) {
            other.sums.forEach((k, v) -> {
                double[] s = sums.computeIfAbsent(k, x -> new double[2]);
                s[0] += v[0];
                s[1] += v[1];
            });
        }

        Map<String, Double> means() {
            Map<String, Double> out = new LinkedHashMap<>();
            sums.forEach((k, s) -> out.put(k, s[0] / s[1]));
            return out;
        }
    }

    /**
     * The steps since the last metrics row, as the Hugging Face Trainer logs every {@code logging_steps}: the mean of
     * their losses, the current rate and gradient norm, the tokens of all of them, and the objective's metrics
     * averaged over all their micro-batches (as TRL averages what it stored since the last log).
     */
    private static final class LogWindow {
        private double lossSum;
        private int lossSteps;
        private long tokens;
        private long inputTokens;
        private double seconds;
        private final MetricSums metrics = new MetricSums();
        private final Map<String, Double> eval = new LinkedHashMap<>();

        void add(StepMetrics m, long stepInputTokens, double stepSeconds, MetricSums stepMetrics, Map<String, Double> evalMetrics) {
            if (!Double.isNaN(m.loss())) {
                lossSum += m.loss();
                lossSteps++;
            }
            tokens += m.tokens();
            inputTokens += stepInputTokens;
            seconds += stepSeconds;
            metrics.add(stepMetrics);
            eval.putAll(evalMetrics);
        }

        ObjectNode row(StepMetrics last) {
            ObjectNode row = JSON.createObjectNode();
            row.put("step", last.step());
            row.put("loss", lossSteps == 0 ? Double.NaN : lossSum / lossSteps);
            row.put("learning_rate", last.learningRate());
            row.put("grad_norm", last.gradNorm());
            row.put("tokens", tokens);
            row.put("tokens_per_second", inputTokens / Math.max(seconds, 1e-9));
            metrics.means().forEach(row::put);
            eval.forEach(row::put);
            return row;
        }
    }

    /** The k-th example of the endless stream: epoch k / n in an order shuffled by the seed and the epoch. */
    private int streamIndex(long k, int n) {
        long epoch = k / n;
        if (epoch != orderEpoch || order.length != n) {
            order = new int[n];
            for (int i = 0; i < n; i++) {
                order[i] = i;
            }
            Random r = new Random(settings.seed() * 31 + epoch);
            for (int i = n - 1; i > 0; i--) {
                int j = r.nextInt(i + 1);
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
            orderEpoch = epoch;
        }
        return order[(int) (k % n)];
    }

    private void log(Path outputDir, ObjectNode row) {
        history.add(row);
        try {
            Files.writeString(outputDir.resolve(METRICS_FILE), row + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new CrucibleException(outputDir + ": cannot write " + METRICS_FILE + ": " + e.getMessage(), e);
        }
    }

    /**
     * {@code metrics.jsonl} as the log history holds it: empty on a fresh run, the checkpoint's rows on a resumed one
     * (a killed run may have logged steps after its last checkpoint, which are trained again). Written to a sibling
     * and renamed, so a kill leaves the old file or the new one.
     */
    private void writeMetrics(Path outputDir) {
        StringBuilder rows = new StringBuilder();
        history.forEach(r -> rows.append(r).append('\n'));
        Path file = outputDir.resolve(METRICS_FILE);
        Path tmp = outputDir.resolve("." + METRICS_FILE + ".tmp");
        try {
            Files.writeString(tmp, rows);
            Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new CrucibleException(outputDir + ": cannot write " + METRICS_FILE + ": " + e.getMessage(), e);
        }
    }

    private void saveCheckpoint(Path dir) {
        try (StagedDirectory staged = StagedDirectory.create(dir)) {
            Map<String, Tensor> values = new LinkedHashMap<>();
            Map<String, Tensor> moments = new LinkedHashMap<>();
            long optimizerStep = 0;
            for (Parameter p : parameters) {
                values.put(p.name(), Tensor.ofFloats(p.data(), p.shape()));
                AdamW.State s = optimizer.state(p);
                optimizerStep = s.step();
                moments.put("exp_avg." + p.name(), Tensor.ofFloats(s.expAvg(), p.shape()));
                moments.put("exp_avg_sq." + p.name(), Tensor.ofFloats(s.expAvgSq(), p.shape()));
            }
            SafetensorsWriter.write(staged.path().resolve(TrainingCheckpoints.PARAMS_FILE), values);
            SafetensorsWriter.write(staged.path().resolve(TrainingCheckpoints.OPTIMIZER_FILE), moments);
            ObjectNode state = JSON.createObjectNode();
            state.put("global_step", step);
            state.put("optimizer_step", optimizerStep);
            state.put("method", settings.method().name().toLowerCase(Locale.ROOT));
            state.set("settings", describe());
            state.set("log_history", history.deepCopy());
            objective.save(staged.path(), state);
            Files.writeString(staged.path().resolve(TrainingCheckpoints.STATE_FILE),
                    JSON.writerWithDefaultPrettyPrinter().writeValueAsString(state));
            if (adapter != null) {
                adapter.writeTo(staged.path());
            }
            staged.publish();
        } catch (IOException e) {
            throw new CrucibleException(dir + ": cannot write checkpoint: " + e.getMessage(), e);
        }
    }

    /** The adapter (PEFT directory files) or the full model (config, weights in the base's dtype) plus tokenizer. */
    private void saveFinal(Path outputDir) {
        Path staging = outputDir.resolve(".final-tmp");
        try (StagedDirectory staged = StagedDirectory.create(staging)) {
            if (adapter != null) {
                adapter.withBaseModel(base.path().toAbsolutePath().toString()).writeTo(staged.path());
            } else {
                FullModelWriter.write(base, config, parameters, staged.path());
            }
            base.copyTokenizerTo(staged.path());
            try (var files = Files.list(staged.path())) {
                for (Path f : files.toList()) {
                    Files.move(f, outputDir.resolve(f.getFileName().toString()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
            }
        } catch (IOException e) {
            throw new CrucibleException(outputDir + ": cannot write the final model: " + e.getMessage(), e);
        }
    }

    private static JsonNode readJson(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new CrucibleException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        checkpoint.close();
    }
}
