package dev.crucible.cli;

import dev.crucible.CrucibleException;
import dev.crucible.ProgressBar;
import dev.crucible.merge.MergeConfig;
import dev.crucible.merge.MergeOptions;
import dev.crucible.merge.MergePlan;
import dev.crucible.merge.Merger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "merge", description = {
        "Merge models with a mergekit YAML config (mergekit-yaml compatible).",
        "Model paths in the config are local directories, relative to the working directory (then --base-dir, then "
                + "the config's directory); 'model+lora_dir' applies a PEFT LoRA adapter on the fly."})
final class MergeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "CONFIG.yml", description = "mergekit merge config")
    Path config;

    @Parameters(index = "1", paramLabel = "OUT_DIR", description = "output model directory (written atomically)")
    Path out;

    @Option(names = "--dry-run", description = "print the plan (tensors, inputs, parameters, memory, bytes); write nothing")
    boolean dryRun;

    @Option(names = {"--threads", "-j", "--num-threads"}, description = "worker threads (default: all cores)")
    Integer threads;

    @Option(names = "--out-shard-size", paramLabel = "SIZE", defaultValue = "5G",
            description = "maximum bytes per output shard; K/M/G (x1000, mergekit's B = G) or KiB/MiB/GiB suffixes (default 5G)")
    String outShardSize;

    @Option(names = "--memory-budget", paramLabel = "SIZE", defaultValue = "384MiB",
            description = "bytes of tensors being merged at once (default 384MiB); a larger tensor runs alone")
    String memoryBudget;

    @Option(names = "--copy-tokenizer", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "copy the base model's tokenizer when the config merges none (default: on)")
    boolean copyTokenizer;

    @Option(names = "--allow-crimes", description = "allow mixing architectures; skip inputs whose tensor shapes differ")
    boolean allowCrimes;

    @Option(names = "--random-seed", description = "seed for random methods (dare_*, della*, ...); default 0")
    long seed;

    @Option(names = "--write-model-card", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "write README.md and mergekit_config.yml (default: on)")
    boolean writeModelCard;

    @Option(names = "--safe-serialization", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "write safetensors (always; --no-safe-serialization is refused)")
    boolean safeSerialization;

    @Option(names = "--base-dir", paramLabel = "DIR", description = "directory relative model paths are resolved against")
    Path baseDir;

    @Option(names = "--fsync", description = "force the output to disk before it is published (slower; default: "
            + "like mergekit, leave it to the kernel; the output is published atomically either way)")
    boolean fsync;

    @Option(names = "--quiet", description = "no progress bar")
    boolean quiet;

    @Option(names = "--lazy-unpickle", description = "accepted for mergekit compatibility (inputs are memory-mapped safetensors)")
    boolean lazyUnpickle;

    @Option(names = {"--cuda", "--low-cpu-memory", "--read-to-gpu", "--multi-gpu", "--gpu-rich", "--clone-tensors",
            "--trust-remote-code", "--async-write"},
            description = "accepted for mergekit compatibility and ignored (Crucible merges on the CPU, streaming)")
    boolean ignored;

    @Override
    public Integer call() {
        PrintStream err = new PrintStream(new WriterStream(spec.commandLine().getErr()), true);
        PrintStream outStream = new PrintStream(new WriterStream(spec.commandLine().getOut()), true);
        if (!safeSerialization) {
            throw new CrucibleException("--no-safe-serialization: Crucible writes safetensors only");
        }
        if (ignored) {
            err.println("note: GPU / memory-placement options are ignored; Crucible merges on the CPU, streaming");
        }
        int n = threads == null ? Runtime.getRuntime().availableProcessors() : threads;
        if (n < 1) {
            throw new CrucibleException("--threads: must be at least 1, got " + n);
        }
        Path cwd = Path.of("").toAbsolutePath();
        Path configDir = config.toAbsolutePath().getParent();
        Path[] bases = baseDir == null ? new Path[]{cwd, configDir} : new Path[]{cwd, baseDir, configDir};
        MergeOptions options = new MergeOptions(bases, n, parseSize(outShardSize, "--out-shard-size"),
                parseSize(memoryBudget, "--memory-budget"), copyTokenizer, allowCrimes, seed, writeModelCard,
                !quiet && ProgressBar.interactive(), fsync);
        if (dryRun) {
            MergeConfig cfg = MergeConfig.read(config, bases);
            try (MergePlan plan = MergePlan.build(cfg, allowCrimes)) {
                plan.warnings().forEach(w -> err.println("warning: " + w));
                Merger.describe(plan, options, outStream);
            }
            return 0;
        }
        long start = System.nanoTime();
        Merger.merge(config, out, options, err);
        if (!quiet) {
            err.printf(Locale.ROOT, "merged into %s in %.1f s%n", out, (System.nanoTime() - start) / 1e9);
        }
        return 0;
    }

    /** Bytes with an optional suffix: K/M/G/B (decimal, as mergekit) or KiB/MiB/GiB (binary). */
    static long parseSize(String text, String option) {
        String s = text.trim();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?i)^(\\d+(?:\\.\\d+)?)\\s*(k|m|g|b|t|kib|mib|gib)?b?$")
                .matcher(s);
        if (!m.matches()) {
            throw new CrucibleException(option + ": expected a byte count such as 5G, 500M or 1GiB, got '" + text + "'");
        }
        double v = Double.parseDouble(m.group(1));
        String unit = m.group(2) == null ? "" : m.group(2).toLowerCase(Locale.ROOT);
        double mult = switch (unit) {
            case "k" -> 1e3;
            case "m" -> 1e6;
            case "g", "b" -> 1e9;
            case "t" -> 1e12;
            case "kib" -> 1024.0;
            case "mib" -> 1024.0 * 1024;
            case "gib" -> 1024.0 * 1024 * 1024;
            default -> 1;
        };
        long bytes = (long) (v * mult);
        if (bytes < 1) {
            throw new CrucibleException(option + ": must be at least 1 byte, got '" + text + "'");
        }
        return bytes;
    }

    /** Adapts picocli's writers (which tests capture) to a PrintStream. */
    static final class WriterStream extends java.io.OutputStream {
        private final java.io.PrintWriter w;

        WriterStream(java.io.PrintWriter w) {
            this.w = w;
        }

        @Override
        public void write(int b) {
            w.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) {
            w.write(new String(b, off, len, java.nio.charset.StandardCharsets.UTF_8));
        }

        @Override
        public void flush() {
            w.flush();
        }
    }
}
