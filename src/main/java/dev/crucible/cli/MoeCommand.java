package dev.crucible.cli;

import dev.crucible.ProgressBar;
import dev.crucible.merge.MoeMerger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "moe", description = {
        "Build a Franken-MoE (Mixtral) from dense Llama/Mistral models with a mergekit-moe YAML config.",
        "Attention, norms and embeddings come from base_model; each expert is one model's MLP; routers are "
                + "initialised by gate_mode (hidden, hidden_avg, cheap_embed, random, uniform_random)."})
final class MoeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "CONFIG.yml", description = "mergekit-moe config")
    Path config;

    @Parameters(index = "1", paramLabel = "OUT_DIR", description = "output model directory (written atomically)")
    Path out;

    @Option(names = "--dry-run", description = "check the config and models, print the output tensors; write nothing")
    boolean dryRun;

    @Option(names = "--random-seed", description = "seed of torch's generator for random gates and noise (default 0)")
    long seed;

    @Option(names = "--copy-tokenizer", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "copy the base model's tokenizer, pad token = BOS as mergekit-moe saves it (default: on)")
    boolean copyTokenizer;

    @Option(names = "--write-model-card", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "write mergekit_moe_config.yml (default: on)")
    boolean writeModelCard;

    @Option(names = "--out-shard-size", paramLabel = "SIZE", defaultValue = "5G",
            description = "maximum bytes per output shard; K/M/G (x1000) or KiB/MiB/GiB suffixes (default 5G)")
    String outShardSize;

    @Option(names = "--i-understand-this-is-not-useful-without-training",
            description = "allow every expert to be the same model")
    boolean allowAllSame;

    @Option(names = "--base-dir", paramLabel = "DIR", description = "directory relative model paths are resolved against")
    Path baseDir;

    @Option(names = "--quiet", description = "no progress bar")
    boolean quiet;

    @Option(names = {"--cuda", "--load-in-4bit", "--load-in-8bit", "--lazy-unpickle", "--trust-remote-code"},
            description = "accepted for mergekit compatibility and ignored (Crucible computes the routers on the CPU)")
    boolean ignored;

    @Override
    public Integer call() {
        PrintStream err = new PrintStream(new MergeCommand.WriterStream(spec.commandLine().getErr()), true);
        PrintStream outStream = new PrintStream(new MergeCommand.WriterStream(spec.commandLine().getOut()), true);
        if (ignored) {
            err.println("note: device / quantisation options are ignored; Crucible computes the routers on the CPU");
        }
        Path cwd = Path.of("").toAbsolutePath();
        Path configDir = config.toAbsolutePath().getParent();
        Path[] bases = baseDir == null ? new Path[]{cwd, configDir} : new Path[]{cwd, baseDir, configDir};
        MoeMerger.Options options = new MoeMerger.Options(bases, MergeCommand.parseSize(outShardSize, "--out-shard-size"),
                copyTokenizer, seed, writeModelCard, allowAllSame, !quiet && ProgressBar.interactive());
        if (dryRun) {
            MoeMerger.describe(config, options, outStream);
            return 0;
        }
        long start = System.nanoTime();
        MoeMerger.merge(config, out, options, err);
        if (!quiet) {
            err.printf(Locale.ROOT, "wrote the mixture of experts to %s in %.1f s%n", out, (System.nanoTime() - start) / 1e9);
        }
        return 0;
    }
}
