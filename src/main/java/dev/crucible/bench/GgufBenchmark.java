package dev.crucible.bench;

import dev.crucible.CrucibleException;
import dev.crucible.gguf.ModelInputs;
import dev.crucible.merge.SyntheticModels;
import dev.crucible.model.Transformer;
import dev.crucible.tensor.Gemm;
import dev.crucible.tensor.Parallel;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The inputs and the decode half of the GGUF benchmark (docs/BENCHMARKS.md, {@code crucible bench gguf}): a synthetic
 * bf16 Llama (no tokenizer: add one before exporting), the 443M-parameter baseline or the small {@code kquant} fixture
 * model; and greedy decode tokens/s of a GGUF file (or model directory), to set beside llama-bench on the same file.
 * Export is timed on the export command.
 */
public final class GgufBenchmark {
    private GgufBenchmark() {
    }

    /**
     * Greedy decode of {@code tokens} tokens per round (best of 3) on {@code model}, after the memory bandwidth; or,
     * with {@code prefill} above 0, a forward pass over a prompt of that many tokens (best of 3).
     */
    public static void decode(Path model, int tokens, int prefill, PrintStream out) {
        RuntimeBenchmark bench = new RuntimeBenchmark(out);
        try (Transformer transformer = ModelInputs.transformer(model)) {
            // which block kernels run (native or Java, and why), so a figure is never read as the other path's
            out.println(new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode().put("case", "kernels")
                    .put("block_kernels", Gemm.blockKernels()));
            if (prefill > 0) {
                bench.prefill(transformer, 1, prefill, 3);
            } else {
                bench.decode(transformer, tokens, bench.bandwidth());
            }
        }
    }

    /** Writes the synthetic model of {@code shape} (baseline or kquant) to {@code dir}; returns its parameter count. */
    public static long writeModel(Path dir, String shape) {
        SyntheticModels.Shape s = switch (shape.toLowerCase(Locale.ROOT)) {
            case "baseline" -> SyntheticModels.Shape.BASELINE;
            case "kquant" -> SyntheticModels.Shape.GGUF_KQUANT;
            default -> throw new CrucibleException("unknown --shape " + shape + " (baseline or kquant)");
        };
        if (Files.exists(dir.resolve("config.json"))) {
            throw new CrucibleException(dir + ": already holds a model");
        }
        SyntheticModels.write(dir, s, 0, 0, 0, Parallel.threads());
        return s.parameters();
    }
}
