package dev.crucible.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crucible.CrucibleException;
import dev.crucible.data.SftExamples;
import dev.crucible.io.ModelDirectory;
import dev.crucible.model.Tokenizer;
import dev.crucible.model.template.ChatTemplate;
import dev.crucible.train.SftTrainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;

/** {@code crucible sft CONFIG.yml}: supervised fine-tuning (full, LoRA, DoRA, QLoRA) from an Axolotl-style config. */
@Command(name = "sft", mixinStandardHelpOptions = true,
        description = "Supervised fine-tuning (full, LoRA, DoRA, QLoRA) from an Axolotl-style YAML config.")
final class SftCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "CONFIG.yml")
    Path configFile;

    @Override
    public Integer call() {
        SftConfig c = SftConfig.read(configFile);
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        ModelDirectory model = ModelDirectory.open(c.baseModel());
        List<SftTrainer.Example> examples = new ArrayList<>();
        try (Tokenizer tokenizer = Tokenizer.load(c.baseModel())) {
            tokenizer.checkFitsModel(model.config().vocabSize());
            ChatTemplate template = chatTemplate(c, model);
            SftExamples format = new SftExamples(tokenizer, template, c.trainOnInputs());
            for (SftConfig.Dataset d : c.datasets()) {
                List<JsonNode> rows = SftExamples.readRows(d.path());
                for (int i = 0; i < rows.size(); i++) {
                    SftExamples.Tokenized t = format.tokenize(rows.get(i), d.type(), d.path() + " row " + (i + 1));
                    examples.add(new SftTrainer.Example(t.ids(), t.labels()));
                }
            }
        }
        long tooLong = examples.stream().filter(e -> e.ids().length > c.sequenceLen()).count();
        if (tooLong > 0) {
            err.printf("warning: %d of %d examples are longer than sequence_len %d and are truncated%n",
                    tooLong, examples.size(), c.sequenceLen());
        }
        List<SftTrainer.Example> shuffled = new ArrayList<>(examples);
        Collections.shuffle(shuffled, new Random(c.seed()));
        int val = (int) (c.valSetSize() >= 1 ? c.valSetSize() : Math.round(c.valSetSize() * shuffled.size()));
        if (val >= shuffled.size()) {
            throw new CrucibleException(configFile + ": val_set_size " + c.valSetSize() + " leaves no training examples");
        }
        List<SftTrainer.Example> validation = shuffled.subList(0, val);
        List<SftTrainer.Example> train = shuffled.subList(val, shuffled.size());
        int perStep = c.microBatchSize() * c.gradientAccumulationSteps();
        int steps = c.maxSteps() > 0 ? c.maxSteps() : (int) Math.ceil(c.numEpochs() * train.size() / perStep);
        int warmup = c.warmupSteps() > 0 ? c.warmupSteps() : (int) Math.ceil(c.warmupRatio() * steps);
        SftTrainer.Settings settings = new SftTrainer.Settings(SftTrainer.Method.valueOf(c.adapter().toUpperCase(Locale.ROOT)),
                c.loraR(), c.loraAlpha(), c.loraDropout(), c.loraTargetModules(), c.useRslora(), c.microBatchSize(),
                c.gradientAccumulationSteps(), c.sequenceLen(), Math.max(1, steps), c.learningRate(), c.lrScheduler(),
                warmup, c.weightDecay(), c.maxGradNorm(), c.gradientCheckpointing(), c.seed(), c.saveSteps(), c.evalSteps());
        out.printf("%s fine-tuning of %s: %d training and %d validation examples, %d steps%n", c.adapter(),
                c.baseModel(), train.size(), validation.size(), settings.maxSteps());
        long start = System.nanoTime();
        try (SftTrainer trainer = new SftTrainer(c.baseModel(), settings)) {
            if (c.resumeFromCheckpoint() != null) {
                trainer.resume(c.resumeFromCheckpoint());
                out.printf("resumed from %s at step %d%n", c.resumeFromCheckpoint(), trainer.step());
            }
            int first = trainer.step();
            trainer.train(train, validation, c.outputDir(), m -> {
                double secs = (System.nanoTime() - start) / 1e9;
                long eta = Math.round(secs / (m.step() - first) * (m.totalSteps() - m.step()));
                int width = 24;
                int filled = width * m.step() / m.totalSteps();
                err.printf(Locale.ROOT, "\rstep %d/%d [%s%s] loss %.4f%s | %.0f tok/s | ETA %ds ", m.step(), m.totalSteps(),
                        "#".repeat(filled), " ".repeat(width - filled), m.loss(),
                        Double.isNaN(m.evalLoss()) ? "" : String.format(Locale.ROOT, " eval %.4f", m.evalLoss()),
                        m.tokensPerSecond(), eta);
                err.flush();
            });
            err.println();
        }
        out.printf("done: %s (metrics.jsonl, loss.html%s)%n", c.outputDir(), tooLong > 0 ? ", " + tooLong + " truncated" : "");
        return 0;
    }

    /** The config's chat_template (a .jinja file or an inline template), else the model's own; null when neither. */
    private ChatTemplate chatTemplate(SftConfig c, ModelDirectory model) {
        String t = c.chatTemplate();
        if (t == null || t.equals("tokenizer_default")) {
            return model.chatTemplate() == null ? null : ChatTemplate.fromModel(model);
        }
        Path file = configFile.toAbsolutePath().getParent().resolve(t);
        String source = t;
        if (Files.isRegularFile(file)) {
            try {
                source = Files.readString(file);
            } catch (IOException e) {
                throw new CrucibleException(file + ": cannot read: " + e.getMessage(), e);
            }
        } else if (!t.contains("{%") && !t.contains("{{")) {
            throw new CrucibleException(configFile + ": chat_template '" + t
                    + "' is neither tokenizer_default, a template file nor an inline Jinja template");
        }
        return ChatTemplate.of(source).withSpecialTokens(ChatTemplate.specialTokens(model.tokenizerConfig()));
    }
}
