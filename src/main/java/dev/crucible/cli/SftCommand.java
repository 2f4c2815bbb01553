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
import dev.crucible.train.SftTrainer;
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
        // a resumed run continues in its own output_dir, so that one may hold files
        OutputCheck.of(c.outputDir(), "output_dir").reads("the config", configFile).reads("base_model", c.baseModel())
                .reads("the dataset", c.datasets().stream().map(DatasetSpec::path).toList())
                .directory(overwrite.overwrite || c.resumeFromCheckpoint() != null, err::println);
        ModelDirectory model = ModelDirectory.open(c.baseModel());
        SftDataset data;
        try (Tokenizer tokenizer = Tokenizer.load(c.baseModel())) {
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
        int perStep = c.microBatchSize() * c.gradientAccumulationSteps();
        int steps = c.maxSteps() > 0 ? c.maxSteps() : (int) Math.ceil(c.numEpochs() * train.size() / perStep);
        int warmup = c.warmupSteps() > 0 ? c.warmupSteps() : (int) Math.ceil(c.warmupRatio() * steps);
        SftTrainer.Settings settings = new SftTrainer.Settings(SftTrainer.Method.valueOf(c.adapter().toUpperCase(Locale.ROOT)),
                c.loraR(), c.loraAlpha(), c.loraDropout(), c.loraTargetModules(), c.useRslora(), c.microBatchSize(),
                c.gradientAccumulationSteps(), c.sequenceLen(), Math.max(1, steps), c.learningRate(), c.lrScheduler(),
                warmup, c.weightDecay(), c.maxGradNorm(), c.gradientCheckpointing(), c.seed(), c.saveSteps(), c.evalSteps());
        out.printf("%s fine-tuning of %s: %d training and %d validation %s, %d steps%n", c.adapter(),
                c.baseModel(), train.size(), validation.size(), c.samplePacking() ? "packed sequences" : "examples",
                settings.maxSteps());
        long start = System.nanoTime();
        try (SftTrainer trainer = new SftTrainer(c.baseModel(), settings)) {
            if (c.resumeFromCheckpoint() != null) {
                trainer.resume(c.resumeFromCheckpoint());
                out.printf("resumed from %s at step %d%n", c.resumeFromCheckpoint(), trainer.step());
            }
            int first = trainer.step();
            ProgressBar progress = new ProgressBar(err, "sft", "steps", true);
            trainer.train(train, validation, c.outputDir(), m -> {
                double secs = (System.nanoTime() - start) / 1e9;
                long eta = Math.round(secs / (m.step() - first) * (m.totalSteps() - m.step()));
                int width = 24;
                int filled = width * m.step() / m.totalSteps();
                progress.status(String.format(Locale.ROOT, "step %d/%d [%s%s] loss %.4f%s | %.0f tok/s | ETA %ds ",
                        m.step(), m.totalSteps(), "#".repeat(filled), " ".repeat(width - filled), m.loss(),
                        Double.isNaN(m.evalLoss()) ? "" : String.format(Locale.ROOT, " eval %.4f", m.evalLoss()),
                        m.tokensPerSecond(), eta), m.step() == m.totalSteps());
            });
        }
        out.printf("done: %s (metrics.jsonl, loss.html%s)%n", c.outputDir(), stats.truncated() > 0 ? ", " + stats.truncated() + " truncated" : "");
        return 0;
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
