package dev.crucible.cli;

import dev.crucible.CrucibleException;
import dev.crucible.ProgressBar;
import dev.crucible.data.Batches;
import dev.crucible.data.DatasetSpec;
import dev.crucible.data.DatasetStats;
import dev.crucible.data.PackedSequence;
import dev.crucible.data.PreferenceDataset;
import dev.crucible.data.PreferenceStats;
import dev.crucible.data.PreferenceTokenizer;
import dev.crucible.data.SftDataset;
import dev.crucible.io.ModelDirectory;
import dev.crucible.io.OutputCheck;
import dev.crucible.merge.SyntheticModels;
import dev.crucible.model.Tokenizer;
import dev.crucible.peft.LoraConfig;
import dev.crucible.train.TrainConfig;
import dev.crucible.train.MemoryPlan;
import dev.crucible.data.PreferenceExample;
import dev.crucible.train.PreferenceObjective;
import dev.crucible.train.Trainer;
import dev.crucible.train.TrainingCheckpoints;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code crucible train CONFIG.yml} (also {@code crucible sft}): training from an Axolotl-style config. Without
 * {@code rl:} supervised fine-tuning (full, LoRA, DoRA, QLoRA); with {@code rl: dpo | ipo | orpo | simpo | kto}
 * preference training on {@code type: preference} / {@code type: kto} datasets, over the same methods.
 */
@Command(name = "train", aliases = "sft", mixinStandardHelpOptions = true,
        description = {"Train from an Axolotl-style YAML config: supervised fine-tuning (full, LoRA, DoRA, QLoRA), or"
                + " with rl: dpo, ipo, orpo, simpo or kto preference training on the same methods. `crucible sft` is the"
                + " same command.",
                "output_dir must not be, contain or lie inside the config, base_model or a dataset; an existing, "
                        + "non-empty output_dir needs --overwrite (or resume_from_checkpoint)."})
final class TrainCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "CONFIG.yml")
    Path configFile;

    @Mixin
    OverwriteOption overwrite;

    @Option(names = "--dry-run", description = "Read and tokenise the data, print rows, tokens, the method, the steps"
            + " and the estimated memory, and stop before loading the model or writing anything.")
    boolean dryRun;

    @Override
    public Integer call() {
        TrainConfig c = TrainConfig.read(configFile);
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        c.notes().forEach(err::println);
        Path resumeFrom = resumeCheckpoint(c);
        if (!dryRun) {
            // a resumed run continues in its own output_dir, so that one may hold files
            OutputCheck.of(c.outputDir(), "output_dir").reads("the config", configFile).reads("base_model", c.baseModel())
                    .reads("the dataset", c.datasets().stream().map(DatasetSpec::path).toList())
                    .reads("lora_model_dir", c.lora() == null ? null : c.lora().initialAdapter())
                    .directory(overwrite.overwrite || resumeFrom != null, err::println);
        }
        ModelDirectory model = ModelDirectory.open(c.baseModel());
        if (c.randomInitWeights()) {
            Path scratch = initialWeights(model, c.seed());
            try {
                return train(c, ModelDirectory.open(scratch), resumeFrom, out, err);
            } finally {
                deleteTree(scratch.getParent());
            }
        }
        return train(c, model, resumeFrom, out, err);
    }

    private int train(TrainConfig c, ModelDirectory model, Path resumeFrom, PrintWriter out, PrintWriter err) {
        int maxPositions = model.config().maxPositionEmbeddings();
        if (maxPositions > 0 && c.sequenceLen() > maxPositions) {
            err.printf("warning: sequence_len %d exceeds the model's max_position_embeddings %d; positions past it were"
                    + " never trained and the model may not handle them%n", c.sequenceLen(), maxPositions);
        }
        checkInitialAdapter(c, err);
        if (!c.specialTokens().isEmpty()) {
            model = withSpecialTokens(model, c.specialTokens());
        }
        return c.preference() == null ? sft(c, model, resumeFrom, out, err) : preference(c, model, resumeFrom, out, err);
    }

    private int sft(TrainConfig c, ModelDirectory model, Path resumeFrom, PrintWriter out, PrintWriter err) {
        SftDataset data;
        int padId;
        try (Tokenizer tokenizer = Tokenizer.load(model)) {
            tokenizer.checkFitsModel(model.config().vocabSize());
            padId = Batches.padId(tokenizer);
            data = SftDataset.load(new SftDataset.Config(c.datasets(), c.chatTemplate(), c.sequenceLen(), c.trainOnInputs(),
                    c.samplePacking(), c.valSetSize(), c.seed()), model, tokenizer);
        }
        DatasetStats stats = data.stats();
        out.println(stats.summary(c.sequenceLen()));
        if (stats.truncated() > 0) {
            err.printf("warning: %d of %d examples are longer than sequence_len %d and were truncated (%d tokens cut off)%n",
                    stats.truncated(), stats.examples(), c.sequenceLen(), stats.truncatedTokens());
        }
        List<PackedSequence> train = data.trainSequences();
        List<PackedSequence> validation = data.validationSequences();
        if (train.isEmpty()) {
            throw new CrucibleException(configFile + ": val_set_size " + c.valSetSize() + " leaves no training examples");
        }
        Trainer.Settings settings = settings(c, train.size());
        out.printf("%s fine-tuning of %s: %d training and %d validation %s, %d steps%n", c.adapter(),
                c.baseModel(), train.size(), validation.size(), c.samplePacking() ? "packed sequences" : "examples",
                settings.maxSteps());
        if (dryRun) {
            int longest = train.stream().mapToInt(e -> Math.min(e.length(), c.sequenceLen())).max().orElse(1);
            dryRunSummary(out, model, settings, null, settings.microBatchSize(),
                    c.padToSequenceLen() ? c.sequenceLen() : longest);
            return 0;
        }
        try (var trainer = Trainer.sft(model, settings, padId)) {
            run(trainer, train, validation, c, resumeFrom, out, err, "sft");
        }
        out.printf("done: %s (metrics.jsonl, loss.html%s)%n", c.outputDir(), stats.truncated() > 0 ? ", " + stats.truncated() + " truncated" : "");
        return 0;
    }

    private int preference(TrainConfig c, ModelDirectory model, Path resumeFrom, PrintWriter out, PrintWriter err) {
        TrainConfig.Preference p = c.preference();
        PreferenceDataset data;
        int padId;
        try (Tokenizer tokenizer = Tokenizer.load(model)) {
            tokenizer.checkFitsModel(model.config().vocabSize());
            padId = Batches.padId(tokenizer);
            data = PreferenceDataset.load(new PreferenceDataset.Config(c.datasets(), c.chatTemplate(),
                    p.method().legacyTokenization() ? PreferenceTokenizer.Style.LEGACY : PreferenceTokenizer.Style.TRL,
                    c.sequenceLen(), p.maxPromptLen(), !p.method().paired(), c.valSetSize(), c.seed()), model, tokenizer);
        }
        PreferenceStats stats = data.stats();
        out.println(stats.summary(c.sequenceLen()));
        stats.warnings(c.sequenceLen()).forEach(w -> err.println("warning: " + w));
        List<PreferenceExample> train = data.train();
        if (train.isEmpty()) {
            throw new CrucibleException(configFile + ": no training " + (p.method().paired() ? "pairs" : "rows") + " left"
                    + (c.valSetSize() > 0 ? " after val_set_size " + c.valSetSize() : "") + " (see the counts above)");
        }
        Trainer.Settings settings = settings(c, train.size());
        PreferenceObjective.Config objective = new PreferenceObjective.Config(p.method(), p.params(), p.precomputeReference());
        out.printf(Locale.ROOT, "%s training (%s) of %s: %d training and %d validation %s, %d steps, beta %s%s%n",
                p.method().configName(), c.adapter(), c.baseModel(), train.size(), data.validation().size(),
                p.method().paired() ? "pairs" : "rows", settings.maxSteps(), p.params().beta(),
                !p.method().usesReference() ? ", no reference model" : p.precomputeReference()
                        ? ", reference log-probs precomputed" : ", reference model run every step");
        if (dryRun) {
            int longest = 1;
            for (PreferenceExample e : train) {
                longest = Math.max(longest, e instanceof PreferenceExample.Pair pair
                        ? Math.max(pair.chosen().ids().length, pair.rejected().ids().length)
                        : Math.min(c.sequenceLen(), ((PreferenceExample.Unpaired) e).prompt().length
                        + ((PreferenceExample.Unpaired) e).completion().length));
            }
            dryRunSummary(out, model, settings, objective, (p.method().paired() ? 2 : 1) * settings.microBatchSize(),
                    longest);
            return 0;
        }
        try (var trainer = Trainer.preference(model, settings, objective, padId)) {
            run(trainer, train, data.validation(), c, resumeFrom, out, err, p.method().configName());
        }
        out.printf("done: %s (metrics.jsonl, loss.html)%n", c.outputDir());
        return 0;
    }

    /**
     * random_init_weights: base_model's config.json and tokenizer with freshly initialised weights, in a temporary
     * directory (deleted after the run), so that training from scratch runs the same code as fine-tuning.
     */
    private static Path initialWeights(ModelDirectory base, long seed) {
        try {
            Path dir = Files.createTempDirectory("crucible-init-").resolve("model");
            SyntheticModels.writeInitial(dir, base.config(), seed, Runtime.getRuntime().availableProcessors());
            base.copyTokenizerTo(dir);
            return dir;
        } catch (IOException e) {
            throw new CrucibleException("cannot write the randomly initialised model to a temporary directory: "
                    + e.getMessage(), e);
        }
    }

    private static void deleteTree(Path dir) {
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            // a leftover temporary directory is harmless; the run's result is what matters
        }
    }

    /** The trainer settings of a config over {@code examples} training examples. */
    private Trainer.Settings settings(TrainConfig c, int examples) {
        int steps = totalSteps(c, examples);
        Trainer.Optimizer o = c.optimizer();
        int warmup = o.warmupSteps() > 0 ? o.warmupSteps() : (int) Math.ceil(c.warmupRatio() * steps);
        return new Trainer.Settings(Trainer.Method.valueOf(c.adapter().toUpperCase(Locale.ROOT)),
                c.lora(), new Trainer.Optimizer(o.learningRate(), o.lrScheduler(), warmup, o.weightDecay(), o.beta1(),
                o.beta2(), o.epsilon(), o.maxGradNorm()), c.microBatchSize(), c.gradientAccumulationSteps(),
                c.sequenceLen(), c.padToSequenceLen(), steps, c.gradientCheckpointing(), c.seed(),
                c.saves().resolve(steps, c.numEpochs()), c.evals().resolve(steps, c.numEpochs()),
                Math.max(1, c.logs().resolve(steps, c.numEpochs())), c.saveTotalLimit());
    }

    private static void dryRunSummary(PrintWriter out, ModelDirectory model, Trainer.Settings settings,
                                      PreferenceObjective.Config preference, int rows, int seq) {
        MemoryPlan.Estimate m = MemoryPlan.estimate(MemoryPlan.Model.of(model),
                MemoryPlan.Run.of(settings, preference, rows, seq, Runtime.getRuntime().availableProcessors()));
        out.printf(Locale.ROOT, "micro-batch: %d sequences of up to %d tokens; %d steps of %d micro-batches%n", rows, seq,
                settings.maxSteps(), settings.gradientAccumulationSteps());
        out.println("estimated memory: " + m.describe());
        out.printf(Locale.ROOT, "run it with CRUCIBLE_JAVA_OPTS=-Xmx%dm: expected peak resident memory %d MiB"
                + " (`crucible plan` compares the methods)%n", m.recommendedHeap() >> 20, m.expectedRss() >> 20);
        out.println("dry run: nothing trained or written");
    }

    /** Trains (resuming first when asked), with a progress bar of steps, loss, the objective's own figures and ETA. */
    private <E> void run(Trainer<E> trainer, List<E> train, List<E> validation, TrainConfig c, Path resumeFrom,
                         PrintWriter out, PrintWriter err, String label) {
        if (resumeFrom != null) {
            trainer.resume(resumeFrom).forEach(err::println);
            out.printf("resumed from %s at step %d%n", resumeFrom, trainer.step());
        }
        long start = System.nanoTime();
        int first = trainer.step();
        ProgressBar progress = new ProgressBar(err, label, "steps", true);
        trainer.train(train, validation, c.outputDir(), new Trainer.Listener() {
            @Override
            public void onStep(Trainer.StepMetrics m) {
                double secs = (System.nanoTime() - start) / 1e9;
                long eta = Math.round(secs / (m.step() - first) * (m.totalSteps() - m.step()));
                int width = 24;
                int filled = (int) ((long) width * m.step() / m.totalSteps());
                progress.status(String.format(Locale.ROOT, "step %d/%d [%s%s] loss %.4f%s%s | %.0f tok/s | ETA %ds ",
                        m.step(), m.totalSteps(), "#".repeat(filled), " ".repeat(width - filled), m.loss(),
                        rewards(m.metrics()),
                        Double.isNaN(m.evalLoss()) ? "" : String.format(Locale.ROOT, " eval %.4f", m.evalLoss()),
                        m.tokensPerSecond(), eta), m.step() == m.totalSteps());
            }

            @Override
            public void onNote(String note) {
                err.println(note);
                err.flush();
            }
        });
    }

    /** " acc 0.75 margin 0.123" for a preference step (KTO has no accuracy), empty for SFT. */
    private static String rewards(Map<String, Double> metrics) {
        StringBuilder sb = new StringBuilder();
        if (metrics.containsKey("rewards/accuracies")) {
            sb.append(String.format(Locale.ROOT, " acc %.2f", metrics.get("rewards/accuracies")));
        }
        if (metrics.containsKey("rewards/margins")) {
            sb.append(String.format(Locale.ROOT, " margin %.3f", metrics.get("rewards/margins")));
        }
        if (metrics.containsKey("kl")) {
            sb.append(String.format(Locale.ROOT, " kl %.3f", metrics.get("kl")));
        }
        return sb.toString();
    }

    /** max_steps, else ceil(num_epochs · examples / (micro_batch_size · gradient_accumulation_steps)), checked to fit. */
    private int totalSteps(TrainConfig c, int examples) {
        if (c.maxSteps() > 0) {
            return c.maxSteps();
        }
        double steps = Math.ceil(c.numEpochs() * examples / ((double) c.microBatchSize() * c.gradientAccumulationSteps()));
        if (steps > Integer.MAX_VALUE) {
            throw new CrucibleException(configFile + ": num_epochs " + c.numEpochs() + " over " + examples
                    + " examples makes " + (long) steps + " steps, more than " + Integer.MAX_VALUE + "; lower num_epochs or set max_steps");
        }
        return Math.max(1, (int) steps);
    }

    /** The checkpoint to continue: the path given, or with {@code true} the latest in output_dir. */
    private Path resumeCheckpoint(TrainConfig c) {
        TrainConfig.Resume r = c.resume();
        if (r.checkpoint() != null) {
            return r.checkpoint();
        }
        if (!r.latest()) {
            return null;
        }
        Path latest = TrainingCheckpoints.latest(c.outputDir());
        if (latest == null && !r.auto()) {
            throw new CrucibleException(configFile + ": resume_from_checkpoint: true, but output_dir " + c.outputDir()
                    + " holds no checkpoint-N to resume from (set save_steps to write checkpoints)");
        }
        return latest;
    }

    /** lora_model_dir: its adapter's own config decides rank, alpha, targets (as PEFT loads it for Axolotl). */
    private static void checkInitialAdapter(TrainConfig c, PrintWriter err) {
        if (c.lora() == null || c.lora().initialAdapter() == null) {
            return;
        }
        LoraConfig loaded = LoraConfig.read(c.lora().initialAdapter());
        err.printf(Locale.ROOT, "note: lora_model_dir: training continues the adapter in %s (r %d, lora_alpha %s, %s);"
                        + " its adapter_config.json replaces lora_r, lora_alpha, lora_dropout, lora_target_modules and"
                        + " lora_modules_to_save%n", c.lora().initialAdapter(), loaded.r(), loaded.loraAlpha(),
                loaded.allLinear() ? "all-linear" : "targets " + loaded.targetModules());
    }

    /**
     * special_tokens: each must already be a token of the vocabulary (adding tokens would resize the embeddings).
     * Checked on the tokenizer without the overrides: loading with them adds any missing one as a new token.
     */
    private static ModelDirectory withSpecialTokens(ModelDirectory model, Map<String, String> tokens) {
        try (Tokenizer tokenizer = Tokenizer.load(model)) {
            int rows = model.config().vocabSize();
            for (Map.Entry<String, String> e : tokens.entrySet()) {
                Integer id = tokenizer.tokenToId(e.getValue());
                if (id == null || id >= rows) {
                    throw new CrucibleException("special_tokens." + e.getKey() + " '" + e.getValue() + "' is not a token of "
                            + model.path() + "'s vocabulary; adding tokens (which resizes the embeddings) is not supported");
                }
            }
        }
        return model.withSpecialTokens(tokens);
    }
}
