package dev.crucible.cli;

import dev.crucible.CrucibleException;
import dev.crucible.tensor.DType;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The options every mergekit script takes (mergekit's {@code add_merge_options}), shared by {@code merge},
 * {@code moe} and {@code extract-lora}, so that a mergekit command line runs with the program name replaced. The
 * device and cache flags are accepted and do nothing; each command names the others that do nothing for it, and
 * {@link #noteIgnored} prints one note listing those the user gave. The README's table "mergekit flags" lists every
 * flag and what Crucible does with it; {@code MergekitFlagsTest} checks both against mergekit's real --help.
 */
final class MergekitOptions {
    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    @Option(names = "--allow-crimes", negatable = true, order = 100,
            description = "merge: allow mixing architectures (inputs whose tensor shapes differ are skipped)")
    boolean allowCrimes;

    @Option(names = "--out-shard-size", paramLabel = "SIZE", defaultValue = "5B", order = 101,
            description = "maximum bytes per output shard, counted as mergekit's writer counts them (elements x "
                    + "element size): a count with k/m/b (x1000, as mergekit) or K/M/G/T, KiB/MiB/GiB (default 5B)")
    String outShardSize;

    @Option(names = "--copy-tokenizer", negatable = true, defaultValue = "true", fallbackValue = "true", order = 102,
            description = "copy the base model's tokenizer to the output (default: on)")
    boolean copyTokenizer;

    @Option(names = "--random-seed", paramLabel = "N", defaultValue = "0", order = 103,
            description = "seed of the random methods and draws (default 0)")
    long randomSeed;

    @Option(names = "--write-model-card", negatable = true, defaultValue = "true", fallbackValue = "true", order = 104,
            description = "write the model card and the config copy (default: on)")
    boolean writeModelCard;

    @Option(names = "--safe-serialization", negatable = true, defaultValue = "true", fallbackValue = "true",
            order = 105, description = "output in safetensors (always: --no-safe-serialization is noted and ignored)")
    boolean safeSerialization;

    @Option(names = "-v", order = 106, description = "verbose: also print the plan before running (repeatable)")
    boolean[] verbose = new boolean[0];

    @Option(names = "--quiet", negatable = true, order = 107, description = "no progress bar and no summary line")
    boolean quiet;

    @Option(names = {"-j", "--num-threads", "--threads"}, paramLabel = "N", order = 108,
            description = "merge: worker threads (default: all cores)")
    Integer threads;

    @Option(names = "--lora-merge-dtype", paramLabel = "DTYPE", order = 109,
            description = "dtype a 'model+adapter' input is folded into before merging: bfloat16, float16 or float32 "
                    + "(default: computed in float32, rounded to the merge dtype)")
    String loraMergeDtype;

    @Option(names = "--base-dir", paramLabel = "DIR", order = 110,
            description = "directory relative model paths are resolved against (after the working directory)")
    Path baseDir;

    @Option(names = {"--cuda", "--no-cuda", "--low-cpu-memory", "--no-low-cpu-memory", "--read-to-gpu",
            "--no-read-to-gpu", "--multi-gpu", "--no-multi-gpu", "--gpu-rich", "--lazy-unpickle", "--no-lazy-unpickle",
            "--trust-remote-code", "--no-trust-remote-code", "--clone-tensors", "--no-clone-tensors", "--async-write",
            "--no-async-write"}, order = 120,
            description = "accepted for mergekit compatibility; no effect (Crucible streams memory-mapped safetensors "
                    + "on the CPU, runs no model code, writes each tensor once, as its workers finish it)")
    boolean[] deviceFlags = new boolean[0];

    @Option(names = {"--device", "--transformers-cache", "--lora-merge-cache"}, paramLabel = "VALUE", order = 121,
            description = "accepted for mergekit compatibility; no effect (no downloads; adapters are applied on the "
                    + "fly, nothing is cached)")
    List<String> deviceValues = new ArrayList<>();

    @Option(names = "--write-threads", paramLabel = "N", order = 122,
            description = "accepted for mergekit compatibility; no effect (the worker threads write their own tensors)")
    Integer writeThreads;

    int verbosity() {
        return verbose.length;
    }

    /** The directories relative model paths are resolved against: the working directory, --base-dir, then {@code more}. */
    Path[] baseDirs(Path... more) {
        List<Path> dirs = new ArrayList<>(List.of(Path.of("").toAbsolutePath()));
        if (baseDir != null) {
            dirs.add(baseDir);
        }
        dirs.addAll(List.of(more));
        return dirs.toArray(Path[]::new);
    }

    long shardBytes() {
        return bytes(outShardSize, "--out-shard-size");
    }

    int threads() {
        int n = threads == null ? Runtime.getRuntime().availableProcessors() : threads;
        if (n < 1) {
            throw new CrucibleException("--num-threads: must be at least 1, got " + n);
        }
        return n;
    }

    /** The --lora-merge-dtype, or null when not given. */
    DType loraMergeDtype() {
        if (loraMergeDtype == null) {
            return null;
        }
        DType d = DType.parse(loraMergeDtype);
        if (!d.isFloatingPoint() || d.byteSize() < 2) {
            throw new CrucibleException("--lora-merge-dtype: expected bfloat16, float16 or float32, got '"
                    + loraMergeDtype + "'");
        }
        return d;
    }

    /**
     * Prints one note naming the mergekit flags given on the command line that have no effect here: the device and
     * cache flags, and the flags of {@code alsoIgnored} (e.g. "--allow-crimes" for a command without crimes).
     */
    void noteIgnored(PrintStream err, String... alsoIgnored) {
        if (writeThreads != null && writeThreads < 1) {
            throw new CrucibleException("--write-threads: must be at least 1, got " + writeThreads);
        }
        Set<String> names = new HashSet<>();
        List<String> options = new ArrayList<>(List.of("--cuda", "--device", "--write-threads"));
        options.addAll(List.of(alsoIgnored));
        for (String option : options) {
            OptionSpec spec = command.findOption(option);
            for (String n : spec.names()) {
                names.add(n);
                if (spec.negatable()) {
                    names.add("--no-" + n.substring(2));
                }
            }
        }
        Set<String> given = new LinkedHashSet<>();
        for (String arg : command.commandLine().getParseResult().originalArgs()) {
            String name = arg.contains("=") ? arg.substring(0, arg.indexOf('=')) : arg;
            if (names.contains(name)) {
                given.add(name);
            }
        }
        if (!safeSerialization) {
            given.add("--no-safe-serialization (Crucible writes safetensors only)");
        }
        if (!given.isEmpty()) {
            err.println("note: no effect in Crucible: " + String.join(", ", given));
        }
    }

    /** Bytes with an optional suffix: k/m/b/g/t (decimal; b = billion, as mergekit) or KiB/MiB/GiB (binary). */
    static long bytes(String text, String option) {
        Matcher m = Pattern.compile("(?i)^(\\d+(?:\\.\\d+)?)\\s*(k|m|g|b|t|kib|mib|gib)?b?$").matcher(text.trim());
        if (!m.matches()) {
            throw new CrucibleException(option + ": expected a byte count such as 5B, 500M or 1GiB, got '" + text + "'");
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
        double bytes = v * mult;
        if (bytes < 1 || bytes > Long.MAX_VALUE / 2) {
            throw new CrucibleException(option + ": must be between 1 byte and 4 EB, got '" + text + "'");
        }
        return (long) bytes;
    }
}
