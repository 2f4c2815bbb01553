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
import dev.crucible.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
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

    public record Settings(Method method, int loraR, double loraAlpha, double loraDropout, List<String> loraTargetModules,
                           boolean useRslora, int microBatchSize, int gradientAccumulationSteps, int sequenceLen,
                           int maxSteps, double learningRate, String lrScheduler, int warmupSteps, double weightDecay,
                           double maxGradNorm, boolean gradientCheckpointing, long seed, int saveSteps, int evalSteps) {
    }

    /** What one optimiser step did; {@code evalLoss} is NaN when no evaluation ran at that step. */
    public record StepMetrics(int step, int totalSteps, double loss, double learningRate, double gradNorm, long tokens,
                              double tokensPerSecond, double evalLoss) {
    }

    public interface Listener {
        void onStep(StepMetrics metrics);
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String STATE_FILE = "trainer_state.json";
    private static final String PARAMS_FILE = "trainable.safetensors";
    private static final String OPTIMIZER_FILE = "optimizer.safetensors";

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
    private int orderEpoch = -1;
    private int[] order = new int[0];

    public SftTrainer(Path baseDir, Settings settings) {
        if (settings.microBatchSize() < 1 || settings.gradientAccumulationSteps() < 1 || settings.sequenceLen() < 2
                || settings.maxSteps() < 1) {
            throw new CrucibleException("micro_batch_size, gradient_accumulation_steps and max_steps must be at least 1,"
                    + " sequence_len at least 2");
        }
        this.settings = settings;
        this.base = ModelDirectory.open(baseDir);
        this.config = base.config();
        this.checkpoint = base.openCheckpoint();
        try {
            Map<String, FrozenWeight> frozen = Map.of();
            Map<String, Var> weights;
            if (settings.method() == Method.FULL) {
                weights = DecoderTraining.loadWeights(checkpoint, true, parameters);
                adapter = null;
            } else {
                Set<String> skip = new HashSet<>();
                if (settings.method().nf4Base()) {
                    frozen = DecoderTraining.quantizeLayerLinears(checkpoint);
                    frozen.keySet().forEach(m -> skip.add(m + ".weight"));
                }
                LoraConfig lc = LoraConfig.create(settings.loraR(), settings.loraAlpha(), settings.loraDropout(),
                        settings.loraTargetModules(), settings.useRslora(), settings.method().dora());
                adapter = LoraAdapter.create(lc, checkpoint, settings.seed(), frozen);
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
            this.model = new DecoderTraining(config, weights, frozen, adapterVars())
                    .gradientCheckpointing(settings.gradientCheckpointing());
            this.optimizer = new AdamW(0.9, 0.999, 1e-8, settings.weightDecay());
        } catch (RuntimeException e) {
            checkpoint.close();
            throw e;
        }
    }

    private Map<String, LoraOps.Adapter> adapterVars() {
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
            out.put(m.path(), new LoraOps.Adapter(Var.of(a), Var.of(b), magnitude, m.scaling(), settings.loraDropout()));
        }
        return out;
    }

    public List<Parameter> parameters() {
        return parameters;
    }

    /** Bytes held by the frozen base weights (float32 copies, or NF4 for QLoRA's linear layers). */
    public long frozenBaseBytes() {
        return frozenBaseBytes;
    }

    public int step() {
        return step;
    }

    /** Continues from {@code checkpoint-N}: trainable values, optimiser state, step and log history. */
    public void resume(Path checkpointDir) {
        JsonNode state = readJson(checkpointDir.resolve(STATE_FILE));
        try (SafetensorsFile params = SafetensorsFile.open(checkpointDir.resolve(PARAMS_FILE));
             SafetensorsFile opt = SafetensorsFile.open(checkpointDir.resolve(OPTIMIZER_FILE))) {
            for (Parameter p : parameters) {
                if (!params.contains(p.name())) {
                    throw new CrucibleException(checkpointDir + ": no saved value for '" + p.name()
                            + "' (was the checkpoint made with the same method and targets?)");
                }
                params.tensor(p.name()).readFloats(0, p.data(), 0, p.size());
                optimizer.restore(p, state.path("optimizer_step").asLong(),
                        opt.tensor("exp_avg." + p.name()).toFloatArray(), opt.tensor("exp_avg_sq." + p.name()).toFloatArray());
            }
        }
        step = state.path("global_step").asInt();
        history.removeAll();
        state.path("log_history").forEach(history::add);
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

    /** Trains until {@code max_steps}, writing metrics, checkpoints and the final model into {@code outputDir}. */
    public void train(List<Example> train, List<Example> validation, Path outputDir, Listener listener) {
        if (train.isEmpty()) {
            throw new CrucibleException("the training set is empty");
        }
        try {
            Files.createDirectories(outputDir);
        } catch (IOException e) {
            throw new CrucibleException(outputDir + ": cannot create: " + e.getMessage(), e);
        }
        if (step == 0) {
            try { // a fresh run starts a fresh log; a resumed one appends to it
                Files.deleteIfExists(outputDir.resolve("metrics.jsonl"));
            } catch (IOException e) {
                throw new CrucibleException(outputDir + ": cannot replace metrics.jsonl: " + e.getMessage(), e);
            }
        }
        LrSchedule schedule = LrSchedule.of(settings.lrScheduler(), settings.warmupSteps(), settings.maxSteps());
        GradientAccumulation accumulation = new GradientAccumulation(settings.gradientAccumulationSteps());
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
            double gradNorm = settings.maxGradNorm() > 0 ? GradientClipping.clip(parameters, settings.maxGradNorm())
                    : GradientClipping.globalNorm(parameters);
            double lr = settings.learningRate() * schedule.factor(step);
            optimizer.step(parameters, lr);
            parameters.forEach(Parameter::zeroGrad);
            step++;
            double seconds = (System.nanoTime() - start) / 1e9;
            boolean evalNow = !validation.isEmpty() && (step == settings.maxSteps()
                    || (settings.evalSteps() > 0 && step % settings.evalSteps() == 0));
            double evalLoss = evalNow ? evaluate(validation) : Double.NaN;
            StepMetrics m = new StepMetrics(step, settings.maxSteps(), tokens == 0 ? Double.NaN : lossSum / tokens, lr,
                    gradNorm, tokens, inputTokens / Math.max(seconds, 1e-9), evalLoss);
            log(outputDir, m);
            if (listener != null) {
                listener.onStep(m);
            }
            if (settings.saveSteps() > 0 && step % settings.saveSteps() == 0 && step < settings.maxSteps()) {
                saveCheckpoint(outputDir.resolve("checkpoint-" + step));
            }
        }
        LossChart.write(outputDir.resolve("loss.html"), history);
        saveFinal(outputDir);
    }

    /** The k-th example of the endless stream: epoch k / n in an order shuffled by the seed and the epoch. */
    private int streamIndex(long k, int n) {
        int epoch = (int) (k / n);
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
     * Right-pads a micro-batch to its longest example (cut to sequence_len); padding is never a label and, in packed
     * batches, forms its own trailing segment so no real token attends it.
     */
    private Batch batch(List<Example> examples) {
        int seq = 0;
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

    private void log(Path outputDir, StepMetrics m) {
        ObjectNode row = JSON.createObjectNode();
        row.put("step", m.step());
        row.put("loss", m.loss());
        row.put("learning_rate", m.learningRate());
        row.put("grad_norm", m.gradNorm());
        row.put("tokens", m.tokens());
        row.put("tokens_per_second", m.tokensPerSecond());
        if (!Double.isNaN(m.evalLoss())) {
            row.put("eval_loss", m.evalLoss());
        }
        history.add(row);
        try {
            Files.writeString(outputDir.resolve("metrics.jsonl"), row + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new CrucibleException(outputDir + ": cannot write metrics.jsonl: " + e.getMessage(), e);
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
            SafetensorsWriter.write(staged.path().resolve(PARAMS_FILE), values);
            SafetensorsWriter.write(staged.path().resolve(OPTIMIZER_FILE), moments);
            ObjectNode state = JSON.createObjectNode();
            state.put("global_step", step);
            state.put("optimizer_step", optimizerStep);
            state.put("method", settings.method().name().toLowerCase(java.util.Locale.ROOT));
            state.set("log_history", history.deepCopy());
            Files.writeString(staged.path().resolve(STATE_FILE), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(state));
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
