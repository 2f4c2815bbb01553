package dev.crucible.cli;

import dev.crucible.CrucibleException;
import dev.crucible.ProgressBar;
import dev.crucible.data.DatasetSpec;
import dev.crucible.data.DatasetStats;
import dev.crucible.data.PackedSequence;
import dev.crucible.data.SftDataset;
import dev.crucible.io.ModelDirectory;
import dev.crucible.io.OutputCheck;
import dev.crucible.model.Tokenizer;
import dev.crucible.peft.LoraConfig;
import dev.crucible.train.SftTrainer;
import dev.crucible.train.TrainingCheckpoints;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code crucible sft CONFIG.yml}: supervised fine-tuning (full, LoRA, DoRA, QLoRA) from an Axolotl-style config. */
@Command(name = "sft", mixinStandardHelpOptions = true,
        description = {"Supervised fine-tuning (full, LoRA, DoRA, QLoRA) from an Axolotl-style YAML config.",
                "output_dir must not be, contain or lie inside the config, base_model or a dataset; an existing, "
                        + "non-empty output_dir needs --overwrite (or resume_from_checkpoint)."})
final class SftCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "CONFIG.yml")
    Path configFile;

    @Mixin
    OverwriteOption overwrite;

    @Override
    public Integer call() {
        SftConfig c = SftConfig.read(configFile);
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        c.notes().forEach(err::println);
        Path resumeFrom = resumeCheckpoint(c);
        // a resumed run continues in its own output_dir, so that one may hold files
        OutputCheck.of(c.outputDir(), "output_dir").reads("the config", configFile).reads("base_model", c.baseModel())
                .reads("the dataset", c.datasets().stream().map(DatasetSpec::path).toList())
                .reads("lora_model_dir", c.lora() == null ? null : c.lora().initialAdapter())
                .directory(overwrite.overwrite || resumeFrom != null, err::println);
        ModelDirectory model = ModelDirectory.open(c.baseModel());
        int maxPositions = model.config().maxPositionEmbeddings();
        if (maxPositions > 0 && c.sequenceLen() > maxPositions) {
            err.printf("warning: sequence_len %d exceeds the model's max_position_embeddings %d; positions past it were"
                    + " never trained and the model may not handle them%n", c.sequenceLen(), maxPositions);
        }
        checkInitialAdapter(c, err);
        if (!c.specialTokens().isEmpty()) {
            model = withSpecialTokens(model, c.specialTokens());
        }
        SftDataset data;
        try (Tokenizer tokenizer = Tokenizer.load(model)) {
            tokenizer.checkFitsModel(model.config().vocabSize());
            data = SftDataset.load(new SftDataset.Config(c.datasets(), c.chatTemplate(), c.sequenceLen(), c.trainOnInputs(),
                    c.samplePacking(), c.valSetSize(), c.seed()), model, tokenizer);
        }
        DatasetStats stats = data.stats();
        out.println(stats.summary(c.sequenceLen()));
        if (stats.truncated() > 0) {
            err.printf("warning: %d of %d examples are longer than sequence_len %d and were truncated (%d tokens cut off)%n",
                    stats.truncated(), stats.examples(), c.sequenceLen(), stats.truncatedTokens());
        }
        List<SftTrainer.Example> train = examples(data.trainSequences());
        List<SftTrainer.Example> validation = examples(data.validationSequences());
        if (train.isEmpty()) {
            throw new CrucibleException(configFile + ": val_set_size " + c.valSetSize() + " leaves no training examples");
        }
        int steps = totalSteps(c, train.size());
        SftTrainer.Optimizer o = c.optimizer();
        int warmup = o.warmupSteps() > 0 ? o.warmupSteps() : (int) Math.ceil(c.warmupRatio() * steps);
        SftTrainer.Settings settings = new SftTrainer.Settings(SftTrainer.Method.valueOf(c.adapter().toUpperCase(Locale.ROOT)),
                c.lora(), new SftTrainer.Optimizer(o.learningRate(), o.lrScheduler(), warmup, o.weightDecay(), o.beta1(),
                o.beta2(), o.epsilon(), o.maxGradNorm()), c.microBatchSize(), c.gradientAccumulationSteps(),
                c.sequenceLen(), c.padToSequenceLen(), steps, c.gradientCheckpointing(), c.seed(),
                c.saves().resolve(steps, c.numEpochs()), c.evals().resolve(steps, c.numEpochs()),
                Math.max(1, c.logs().resolve(steps, c.numEpochs())), c.saveTotalLimit());
        out.printf("%s fine-tuning of %s: %d training and %d validation %s, %d steps%n", c.adapter(),
                c.baseModel(), train.size(), validation.size(), c.samplePacking() ? "packed sequences" : "examples",
                settings.maxSteps());
        long start = System.nanoTime();
        try (SftTrainer trainer = new SftTrainer(model, settings)) {
            if (resumeFrom != null) {
                trainer.resume(resumeFrom).forEach(err::println);
                out.printf("resumed from %s at step %d%n", resumeFrom, trainer.step());
            }
            int first = trainer.step();
            ProgressBar progress = new ProgressBar(err, "sft", "steps", true);
            trainer.train(train, validation, c.outputDir(), new SftTrainer.Listener() {
                @Override
                public void onStep(SftTrainer.StepMetrics m) {
                    double secs = (System.nanoTime() - start) / 1e9;
                    long eta = Math.round(secs / (m.step() - first) * (m.totalSteps() - m.step()));
                    int width = 24;
                    int filled = (int) ((long) width * m.step() / m.totalSteps());
                    progress.status(String.format(Locale.ROOT, "step %d/%d [%s%s] loss %.4f%s | %.0f tok/s | ETA %ds ",
                            m.step(), m.totalSteps(), "#".repeat(filled), " ".repeat(width - filled), m.loss(),
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
        out.printf("done: %s (metrics.jsonl, loss.html%s)%n", c.outputDir(), stats.truncated() > 0 ? ", " + stats.truncated() + " truncated" : "");
        return 0;
    }

    /** max_steps, else ceil(num_epochs · examples / (micro_batch_size · gradient_accumulation_steps)), checked to fit. */
    private int totalSteps(SftConfig c, int examples) {
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
    private Path resumeCheckpoint(SftConfig c) {
        SftConfig.Resume r = c.resume();
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
    private static void checkInitialAdapter(SftConfig c, PrintWriter err) {
        if (c.lora() == null || c.lora().initialAdapter() == null) {
            return;
        }
        LoraConfig loaded = LoraConfig.read(c.lora().initialAdapter());
        err.printf(Locale.ROOT, "note: lora_model_dir: training continues the adapter in %s (r %d, lora_alpha %s, %s);"
                        + " its adapter_config.json replaces lora_r, lora_alpha, lora_dropout, lora_target_modules and"
                        + " lora_modules_to_save%n", c.lora().initialAdapter(), loaded.r(), loaded.loraAlpha(),
                loaded.allLinear() ? "all-linear" : "targets " + loaded.targetModules());
    }

    /** special_tokens: each must already be a token of the vocabulary (adding tokens would resize the embeddings). */
    private static ModelDirectory withSpecialTokens(ModelDirectory model, Map<String, String> tokens) {
        try (Tokenizer tokenizer = Tokenizer.load(model.path())) {
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

    private static List<SftTrainer.Example> examples(List<PackedSequence> sequences) {
        List<SftTrainer.Example> out = new ArrayList<>(sequences.size());
        for (PackedSequence p : sequences) {
            out.add(p.examples() > 1 ? new SftTrainer.Example(p.inputIds(), p.labels(), p.positionIds(), p.sequenceIds())
                    : new SftTrainer.Example(p.inputIds(), p.labels()));
        }
        return out;
    }
}
