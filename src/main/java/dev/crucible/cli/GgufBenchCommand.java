package dev.crucible.cli;

import dev.crucible.CrucibleException;
import dev.crucible.bench.GgufBenchmark;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code crucible bench gguf}: the options of {@link GgufBenchmark} (write its synthetic models, or decode). */
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

    private static final int MAX_PREFILL = 8192;

    @Option(names = "--prefill", paramLabel = "N", defaultValue = "0",
            description = "with --decode: time a prompt of N tokens instead (best of 3, every position's logits)")
    int prefill;

    @Override
    public Integer call() {
        if ((dir == null) == (decode == null)) {
            throw new CrucibleException("give one of --write-model DIR or --decode MODEL");
        }
        if (prefill < 0 || prefill > MAX_PREFILL || tokens < 1) {
            // every position's logits are kept: 8192 tokens of a 32000-word vocabulary are 1 GiB already
            throw new CrucibleException("--tokens must be at least 1, --prefill between 0 and " + MAX_PREFILL);
        }
        if (decode != null) {
            GgufBenchmark.decode(decode, tokens, prefill, System.out);
            return 0;
        }
        long parameters = GgufBenchmark.writeModel(dir, shape);
        spec.commandLine().getOut().printf(Locale.ROOT, "wrote %s (%,d parameters)%n", dir, parameters);
        return 0;
    }
}
