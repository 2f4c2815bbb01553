package dev.crucible.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.CrucibleException;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.ModelConfig;
import dev.crucible.io.ModelDirectory;
import dev.crucible.io.SafetensorsFile;
import dev.crucible.io.SafetensorsWriter;
import dev.crucible.io.StagedDirectory;
import dev.crucible.nn.DecoderTraining;
import dev.crucible.nn.FrozenWeight;
import dev.crucible.nn.LoraOps;
import dev.crucible.nn.Parameter;
import dev.crucible.nn.Tape;
import dev.crucible.nn.Var;
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
 * Supervised fine-tuning on tokenised examples: full fine-tuning, LoRA, DoRA, QLoRA (LoRA over an NF4 base) or
 * QDoRA (DoRA over an NF4 base),
 * with micro-batches, token-weighted gradient accumulation, global-norm clipping, AdamW and a warmup schedule.
 * Every step is a pure function of the seed, the step number and the saved state, so training resumed from a
 * checkpoint continues exactly the curve it left. Writes {@code metrics.jsonl}, {@code loss.html}, checkpoints
 * ({@code checkpoint-N}) and the final PEFT adapter or full model into the output directory.
 */
public final class SftTrainer implements AutoCloseable {
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
     * Token ids and labels of one training sequence, unshifted; label -100 excludes a position from the loss. A
     * packed sequence also has {@code positionIds} (rope positions, restarting per example) and {@code sequenceIds}
     * (the example of each token, for the block-diagonal attention mask); both null for a single example.
     */
    public record Example(int[] ids, int[] labels, int[] positionIds, int[] sequenceIds) {
        public Example {
            if (ids.length != labels.length || ids.length == 0) {
                throw new IllegalArgumentException("an example needs as many labels as ids (and at least one token)");
            }
            if ((positionIds == null) != (sequenceIds == null)
                    || positionIds != null && (positionIds.length != ids.length || sequenceIds.length != ids.length)) {
                throw new IllegalArgumentException("a packed sequence needs a position and a sequence id for every token");
            }
        }

        public Example(int[] ids, int[] labels) {
            this(ids, labels, null, null);
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

    /** What one optimiser step did; {@code evalLoss} is NaN when no evaluation ran at that step. */
    public record StepMetrics(int step, int totalSteps, double loss, double learningRate, double gradNorm, long tokens,
                              double tokensPerSecond, double evalLoss) {
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
    private final List<Parameter> parameters = new ArrayList<>();
    private final LoraAdapter adapter;
    private final AdamW optimizer;
    private final long frozenBaseBytes;
    private final ArrayNode history = JSON.createArrayNode();
    private int step;
    private long orderEpoch = -1;
    private int[] order = new int[0];

    public SftTrainer(Path baseDir, Settings settings) {
        this(ModelDirectory.open(baseDir), settings);
    }

    /** {@code base} may carry special-token overrides ({@code special_tokens}): the saved tokenizer files get them. */
    public SftTrainer(ModelDirectory base, Settings settings) {
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
            Map<String, FrozenWeight> frozen = new LinkedHashMap<>();
            Map<String, Var> weights;
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
        } catch (RuntimeException e) {
            checkpoint.close();
            throw e;
        }
    }

    /**
     * A fresh adapter on the targets, or the adapter of {@code lora_model_dir} (checked against the base), whose DoRA
     * setting must agree with the method's.
     */
    private LoraAdapter initialAdapter(Settings settings, Map<String, FrozenWeight> frozen) {
        Lora l = settings.lora();
        if (l.initialAdapter() == null) {
            LoraConfig lc = l.targetsRegex()
                    ? LoraConfig.createForRegex(l.r(), l.alpha(), l.dropout(), l.targetModules().get(0), l.useRslora(),
                            settings.method().dora(), l.modulesToSave())
                    : LoraConfig.create(l.r(), l.alpha(), l.dropout(), l.targetModules(), l.useRslora(),
                            settings.method().dora(), l.modulesToSave());
            return LoraInit.create(lc, checkpoint, settings.seed(), frozen);
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
        step = state.path("global_step").asInt();
        history.removeAll();
        state.path("log_history").forEach(history::add);
        return notes;
    }

    /** What this run is, as recorded in each checkpoint's {@code trainer_state.json} and compared on resume. */
    private ObjectNode describe() {
        ObjectNode d = JSON.createObjectNode();
        d.put("method", settings.method().name().toLowerCase(Locale.ROOT));
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

    /** Loss per label token over {@code examples}, without training. */
    public double evaluate(List<Example> examples) {
        double sum = 0;
        long tokens = 0;
        for (int i = 0; i < examples.size(); i += settings.microBatchSize()) {
            Batch b = batch(examples.subList(i, Math.min(examples.size(), i + settings.microBatchSize())));
            DecoderTraining.Output out = model.forward(new Tape(), b.ids, b.rows, b.seq, b.labels, b.positions, b.sequences, null);
            sum += (double) out.loss().value()[0] * out.lossTokens();
            tokens += out.lossTokens();
        }
        return tokens == 0 ? Double.NaN : sum / tokens;
    }

    /**
     * Trains until {@code max_steps}, writing metrics, checkpoints and the final model into {@code outputDir}. A fresh
     * run starts {@code metrics.jsonl} anew and removes the checkpoints an earlier run left there; a resumed run
     * rewrites {@code metrics.jsonl} from the checkpoint's log (dropping rows of steps it repeats) and removes the
     * later checkpoints of the run it replaces. Only Crucible's own checkpoints are touched (see
     * {@link TrainingCheckpoints}).
     */
    public void train(List<Example> train, List<Example> validation, Path outputDir, Listener listener) {
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
        Optimizer o = settings.optimizer();
        LrSchedule schedule = LrSchedule.of(o.lrScheduler(), o.warmupSteps(), settings.maxSteps());
        GradientAccumulation accumulation = new GradientAccumulation(settings.gradientAccumulationSteps());
        LogWindow window = new LogWindow();
        while (step < settings.maxSteps()) {
            long start = System.nanoTime();
            double lossSum = 0;
            long inputTokens = 0;
            for (int micro = 0; micro < settings.gradientAccumulationSteps(); micro++) {
                long first = ((long) step * settings.gradientAccumulationSteps() + micro) * settings.microBatchSize();
                List<Example> examples = new ArrayList<>();
                for (int k = 0; k < settings.microBatchSize(); k++) {
                    examples.add(train.get(streamIndex(first + k, train.size())));
                }
                Batch b = batch(examples);
                inputTokens += b.ids.length;
                Tape tape = new Tape();
                SplittableRandom dropout = new SplittableRandom(settings.seed() * 1_000_003L + first);
                DecoderTraining.Output out = model.forward(tape, b.ids, b.rows, b.seq, b.labels, b.positions, b.sequences, dropout);
                if (out.lossTokens() > 0) {
                    tape.backward(out.loss(), out.lossTokens());
                    lossSum += (double) out.loss().value()[0] * out.lossTokens();
                }
                accumulation.record(out.lossTokens());
            }
            long tokens = accumulation.finish(parameters);
            double gradNorm = o.maxGradNorm() > 0 ? GradientClipping.clip(parameters, o.maxGradNorm())
                    : GradientClipping.globalNorm(parameters);
            double lr = o.learningRate() * schedule.factor(step);
            optimizer.step(parameters, lr);
            parameters.forEach(Parameter::zeroGrad);
            step++;
            double seconds = (System.nanoTime() - start) / 1e9;
            boolean evalNow = !validation.isEmpty() && (step == settings.maxSteps()
                    || (settings.evalSteps() > 0 && step % settings.evalSteps() == 0));
            double evalLoss = evalNow ? evaluate(validation) : Double.NaN;
            StepMetrics m = new StepMetrics(step, settings.maxSteps(), tokens == 0 ? Double.NaN : lossSum / tokens, lr,
                    gradNorm, tokens, inputTokens / Math.max(seconds, 1e-9), evalLoss);
            window.add(m, inputTokens, seconds);
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
        LossChart.write(outputDir.resolve("loss.html"), history);
        saveFinal(outputDir);
    }

    /**
     * The steps since the last metrics row, as the Hugging Face Trainer logs every {@code logging_steps}: the mean of
     * their losses, the current rate and gradient norm, the tokens of all of them.
     */
    private static final class LogWindow {
        private double lossSum;
        private int lossSteps;
        private long tokens;
        private long inputTokens;
        private double seconds;

        void add(StepMetrics m, long stepInputTokens, double stepSeconds) {
            if (!Double.isNaN(m.loss())) {
                lossSum += m.loss();
                lossSteps++;
            }
            tokens += m.tokens();
            inputTokens += stepInputTokens;
            seconds += stepSeconds;
        }

        ObjectNode row(StepMetrics last) {
            ObjectNode row = JSON.createObjectNode();
            row.put("step", last.step());
            row.put("loss", lossSteps == 0 ? Double.NaN : lossSum / lossSteps);
            row.put("learning_rate", last.learningRate());
            row.put("grad_norm", last.gradNorm());
            row.put("tokens", tokens);
            row.put("tokens_per_second", inputTokens / Math.max(seconds, 1e-9));
            if (!Double.isNaN(last.evalLoss())) {
                row.put("eval_loss", last.evalLoss());
            }
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

    /** {@code positions} and {@code sequences} are null unless some row is a packed sequence. */
    private record Batch(int[] ids, int[] labels, int[] positions, int[] sequences, int rows, int seq) {
    }

    /**
     * Right-pads a micro-batch to its longest example (cut to sequence_len), or to sequence_len itself with
     * {@code pad_to_sequence_len}; padding is never a label and, in packed batches, forms its own trailing segment so
     * no real token attends it. Causal attention keeps real tokens from attending right padding, so the padded length
     * changes no number, only the work.
     */
    private Batch batch(List<Example> examples) {
        int seq = settings.padToSequenceLen() ? settings.sequenceLen() : 0;
        boolean packed = false;
        for (Example e : examples) {
            seq = Math.max(seq, Math.min(e.ids().length, settings.sequenceLen()));
            packed |= e.sequenceIds() != null;
        }
        int pad = config.intOr("pad_token_id", 0);
        int[] ids = new int[examples.size() * seq];
        int[] labels = new int[examples.size() * seq];
        int[] positions = packed ? new int[ids.length] : null;
        int[] sequences = packed ? new int[ids.length] : null;
        java.util.Arrays.fill(ids, pad);
        java.util.Arrays.fill(labels, -100);
        for (int r = 0; r < examples.size(); r++) {
            Example e = examples.get(r);
            int len = Math.min(e.ids().length, settings.sequenceLen());
            System.arraycopy(e.ids(), 0, ids, r * seq, len);
            System.arraycopy(e.labels(), 0, labels, r * seq, len);
            if (packed) {
                for (int p = 0; p < seq; p++) {
                    boolean real = p < len;
                    positions[r * seq + p] = !real ? p - len : e.positionIds() == null ? p : e.positionIds()[p];
                    sequences[r * seq + p] = !real ? Integer.MAX_VALUE : e.sequenceIds() == null ? 0 : e.sequenceIds()[p];
                }
            }
        }
        return new Batch(ids, labels, positions, sequences, examples.size(), seq);
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
