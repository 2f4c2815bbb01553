package dev.crucible.cli;

import dev.crucible.CrucibleException;
import dev.crucible.eval.RuntimeBenchmark;
import dev.crucible.merge.SyntheticModels;
import dev.crucible.model.Transformer;
import dev.crucible.tensor.Parallel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code crucible bench gguf}: the inputs and the decode half of the GGUF benchmark (docs/BENCHMARKS.md).
 * {@code --write-model} writes a synthetic bf16 Llama (no tokenizer: add one before exporting), the 443M-parameter
 * baseline or the small {@code kquant} fixture model; {@code --decode} measures greedy decode tokens/s of a GGUF
 * file (or model directory), to set beside llama-bench on the same file. Export is timed on the export command.
 */
@Command(name = "gguf", description = "GGUF benchmark: write its synthetic models, or measure decode tokens/s of a file.")
final class GgufBenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--write-model", paramLabel = "DIR", description = "write a synthetic bf16 Llama here")
    Path dir;

    @Option(names = "--shape", defaultValue = "baseline", description = "with --write-model: baseline (443M) or kquant (4.7M)")
    String shape;

    @Option(names = "--decode", paramLabel = "MODEL", description = "GGUF file or model directory to decode with")
    Path decode;

    @Option(names = "--tokens", defaultValue = "32", description = "with --decode: tokens per round (best of 3)")
    int tokens;

    @Override
    public Integer call() {
        if ((dir == null) == (decode == null)) {
            throw new CrucibleException("give one of --write-model DIR or --decode MODEL");
        }
        if (decode != null) {
            RuntimeBenchmark bench = new RuntimeBenchmark(System.out);
            RuntimeBenchmark.Bandwidth bandwidth = bench.bandwidth();
            try (Transformer model = ModelInputs.transformer(decode)) {
                bench.decode(model, tokens, bandwidth);
            }
            return 0;
        }
        SyntheticModels.Shape s = switch (shape.toLowerCase(Locale.ROOT)) {
            case "baseline" -> SyntheticModels.Shape.BASELINE;
            case "kquant" -> SyntheticModels.Shape.GGUF_KQUANT;
            default -> throw new CrucibleException("unknown --shape " + shape + " (baseline or kquant)");
        };
        if (Files.exists(dir.resolve("config.json"))) {
            throw new CrucibleException(dir + ": already holds a model");
        }
        SyntheticModels.write(dir, s, 0, 0, 0, Parallel.threads());
        spec.commandLine().getOut().printf(Locale.ROOT, "wrote %s (%,d parameters)%n", dir, s.parameters());
        return 0;
    }
}
