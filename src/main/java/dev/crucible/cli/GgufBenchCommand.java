package dev.crucible.cli;

import dev.crucible.CrucibleException;
import dev.crucible.merge.SyntheticModels;
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
 * {@code crucible bench gguf}: inputs for the GGUF export benchmark and fixtures. {@code --write-model} writes a
 * synthetic bf16 Llama (no tokenizer: add one before exporting), the 443M-parameter baseline or the small
 * {@code kquant} model whose rows are whole k-quant blocks; the timings themselves are the export command's,
 * run side by side with llama.cpp's tools (docs/BENCHMARKS.md).
 */
@Command(name = "gguf", description = "Write the synthetic models of the GGUF export benchmark and fixtures.")
final class GgufBenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--write-model", required = true, paramLabel = "DIR", description = "directory to write")
    Path dir;

    @Option(names = "--shape", defaultValue = "baseline", description = "baseline (443M) or kquant (4.7M)")
    String shape;

    @Override
    public Integer call() {
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
