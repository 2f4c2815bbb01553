package dev.crucible.cli;

import dev.crucible.eval.RuntimeBenchmark;
import dev.crucible.io.StagedDirectory;
import dev.crucible.model.Transformer;
import dev.crucible.tensor.DType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "bench", mixinStandardHelpOptions = true, description = "Measure Crucible's throughput on this machine.",
        subcommands = BenchCommand.Runtime.class)
final class BenchCommand {

    @Command(name = "runtime", mixinStandardHelpOptions = true,
            description = "Matmul GFLOP/s, copy bandwidth, and prefill/decode tokens/s of a SmolLM2-135M-shaped "
                    + "model with random bf16 weights. One JSON line per measurement.")
    static final class Runtime implements Callable<Integer> {
        @Option(names = "--shape", defaultValue = "smollm-135m", description = "smollm-135m or tiny")
        String shape;

        @Option(names = "--batch", defaultValue = "4")
        int batch;

        @Option(names = "--seq", defaultValue = "512")
        int seq;

        @Option(names = "--decode-tokens", defaultValue = "32")
        int decodeTokens;

        @Option(names = "--only", defaultValue = "matmul,copy,prefill,decode", split = ",")
        java.util.Set<String> only;

        @Override
        public Integer call() throws IOException {
            RuntimeBenchmark.Shape s = shape.equals("tiny") ? RuntimeBenchmark.Shape.TINY
                    : RuntimeBenchmark.Shape.SMOLLM_135M;
            RuntimeBenchmark bench = new RuntimeBenchmark(System.out);
            if (only.contains("matmul")) {
                bench.matmul(DType.BF16, 512, s.hidden(), s.intermediate(), 20);
                bench.matmul(DType.F32, 512, s.hidden(), s.intermediate(), 20);
                bench.matmul(DType.BF16, 1, s.hidden(), s.intermediate(), 200);
            }
            double bandwidth = only.contains("copy") || only.contains("decode") ? bench.copyBandwidth() : 0;
            if (only.contains("prefill") || only.contains("decode")) {
                Path tmp = Files.createTempDirectory("crucible-bench-");
                try (StagedDirectory dir = StagedDirectory.create(tmp.resolve("model"))) {
                    RuntimeBenchmark.writeRandomModel(dir.path(), s);
                    try (Transformer model = Transformer.load(dir.path())) {
                        if (only.contains("prefill")) {
                            bench.prefill(model, batch, seq);
                        }
                        if (only.contains("decode")) {
                            bench.decode(model, decodeTokens, bandwidth);
                        }
                    }
                } finally {
                    Files.deleteIfExists(tmp);
                }
            }
            return 0;
        }
    }
}
