package dev.crucible.cli;

import dev.crucible.io.StagedDirectory;
import dev.crucible.train.PreferenceLoss;
import dev.crucible.train.PreferenceMethod;
import dev.crucible.train.PreferenceObjective;
import dev.crucible.bench.SftBenchmark;
import dev.crucible.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code crucible bench sft}: training throughput and memory by method. */
@Command(name = "sft", mixinStandardHelpOptions = true,
        description = "Training tokens/s and peak heap of full fine-tuning, LoRA (r=16, all linear layers) and QLoRA on a "
                + "model with random weights (SmolLM2-135M's shape by default). One JSON line per method.")
final class SftBenchCommand implements Callable<Integer> {
    @Option(names = "--shape", defaultValue = "smollm-135m", description = "smollm-135m or tiny")
    String shape;

    @Option(names = "--batch", defaultValue = "4")
    int batch;

    @Option(names = "--seq", defaultValue = "512")
    int seq;

    @Option(names = "--steps", defaultValue = "2", description = "measured steps (after one warmup step)")
    int steps;

    @Option(names = "--methods", defaultValue = "full,lora,qlora", split = ",",
            description = "comma-separated: full, lora, qlora, dora, qdora (DoRA over NF4); default: ${DEFAULT-VALUE}")
    List<String> methods;

    @Option(names = "--gradient-checkpointing")
    boolean checkpointing;

    @Option(names = "--rl", paramLabel = "METHOD", description = "benchmark preference training instead: dpo, ipo, orpo"
            + " or simpo on --batch random pairs of --seq tokens each (prompt half, completion half)")
    String rl;

    @Option(names = "--reference", defaultValue = "every-step", description = "with --rl dpo or ipo: every-step (the"
            + " reference forward in each step, TRL's default) or precomputed (before the first step); default:"
            + " ${DEFAULT-VALUE}")
    String reference;

    @Override
    public Integer call() throws IOException {
        OptionChecks.oneOf(shape, "--shape", "smollm-135m", "tiny");
        OptionChecks.oneOf(methods.stream().map(m -> m.trim().toLowerCase(Locale.ROOT)).toList(), "--methods", "full",
                "lora", "qlora", "dora", "qdora");
        OptionChecks.atLeast(1, batch, "--batch");
        OptionChecks.atLeast(1, seq, "--seq");
        OptionChecks.atLeast(1, steps, "--steps");
        OptionChecks.oneOf(reference, "--reference", "every-step", "precomputed");
        PreferenceObjective.Config preference = null;
        if (rl != null) {
            OptionChecks.oneOf(rl, "--rl", "dpo", "ipo", "orpo", "simpo");
            preference = new PreferenceObjective.Config(PreferenceMethod.parse(rl),
                    new PreferenceLoss.Params(0.1, 0, 0.5, 1.0, 1, 1, 0), reference.equals("precomputed"));
        }
        SftBenchmark.Shape s = shape.equals("tiny") ? SftBenchmark.Shape.TINY : SftBenchmark.Shape.SMOLLM_135M;
        Path tmp = Files.createTempDirectory("crucible-bench-sft-");
        try (StagedDirectory model = StagedDirectory.create(tmp.resolve("model"));
             StagedDirectory scratch = StagedDirectory.create(tmp.resolve("runs"))) {
            SftBenchmark.writeRandomModel(model.path(), s);
            SftBenchmark bench = new SftBenchmark(System.out);
            for (String m : methods) {
                bench.run(model.path(), s, Trainer.Method.valueOf(m.trim().toUpperCase(Locale.ROOT)), batch, seq, 1,
                        steps, checkpointing, scratch.path(), preference);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
        return 0;
    }
}
