package dev.crucible.bench;

import dev.crucible.CrucibleException;
import dev.crucible.merge.SyntheticModels;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The merge benchmark of docs/BENCHMARKS.md ({@code crucible bench merge}): synthetic bf16 Llama models of 443M
 * parameters ({@code scale} 4: 108 layers, 1.76B) with the configs of testdata/mergekit/BASELINE.md, each merge in a
 * child JVM started as {@code ./crucible merge} starts it. Ratios to mergekit are printed only when mergekit runs in
 * the same session ({@link Settings#mergekit}); otherwise mergekit's figures from BASELINE.md are shown as a labelled
 * reference, never divided by.
 */
public final class MergeBenchmark {
    /** The methods BASELINE.md timed. */
    public static final List<String> METHODS = List.of("linear", "slerp", "ties", "dare_ties");
    /** mergekit 0.1.4's wall seconds in testdata/mergekit/BASELINE.md: another machine and day, reference only. */
    static final Map<String, Double> BASELINE_MERGEKIT_SECONDS = Map.of("linear", 19.5, "slerp", 21.7, "ties", 116.1,
            "dare_ties", 47.9);
    private static final Path GNU_TIME = Path.of("/usr/bin/time");

    /**
     * @param childMain  the class whose {@code main} runs a command line, then prints {@code cpu_ns=} and
     *                   {@code peak_rss_kib=} lines (the CLI's, which this layer cannot name)
     * @param threads    merge threads, null for all cores
     * @param mergekit   mergekit-yaml (or a Python with mergekit), null to time Crucible alone
     */
    public record Settings(List<String> methods, int scale, Path dir, Integer threads, int runs, String jvmOpts,
                           Path mergekit, String childMain) {
    }

    private final Settings settings;
    private final Path dir;
    private final Integer threads;
    private final Path mergekit;

    public MergeBenchmark(Settings settings) {
        this.settings = settings;
        this.dir = settings.dir();
        this.threads = settings.threads();
        this.mergekit = settings.mergekit();
    }

    /** The synthetic model shape of a scale: 1 is BASELINE.md's, 4 has 108 layers (3.98x the parameters). */
    public static SyntheticModels.Shape shape(int scale) {
        return switch (scale) {
            case 1 -> SyntheticModels.Shape.BASELINE;
            case 4 -> new SyntheticModels.Shape(1024, 4096, 108, 16, 8, 32000); // 1.76B parameters, 3.98x
            default -> throw new CrucibleException("--scale: expected 1 or 4, got " + scale);
        };
    }

    /** Generates the inputs once under the directory, then times each method; prints one row per method. */
    public void run(PrintWriter out) throws IOException, InterruptedException {
        int scale = settings.scale();
        int runs = settings.runs();
        SyntheticModels.Shape shape = shape(scale);
        Path models = dir.resolve("scale" + scale);
        int cores = Runtime.getRuntime().availableProcessors();
        String[] names = {"base", "ft1", "ft2"};
        for (int i = 0; i < names.length; i++) {
            Path m = models.resolve(names[i]);
            if (!Files.isRegularFile(m.resolve("model.safetensors"))) {
                out.printf("generating %s (%,d parameters)...%n", m, shape.parameters());
                out.flush();
                SyntheticModels.write(m, shape, 0, i, i == 0 ? 0 : 0.002, cores);
            }
        }
        long inputBytes = Files.size(models.resolve("ft1/model.safetensors"));
        // The launcher's class-data archive exists after its first run; make the children's before timing them.
        Path archive = dir.resolve("crucible-bench.jsa");
        Path warmCfg = models.resolve("big_linear.yml");
        Files.writeString(warmCfg, config("linear", models));
        runChild(archive, warmCfg, dir.resolve("out-warmup"), "--dry-run");
        out.printf("started %s UTC, load average %s%n", java.time.Instant.now().toString().substring(0, 19), loadAverage());
        if (mergekit == null) {
            out.printf("%-10s %6s %9s %9s %9s %12s %8s%n", "method", "scale", "wall s", "CPU s", "GB/s in",
                    "peak RSS MiB", "threads");
        } else {
            out.printf("%-10s %6s %9s %9s %12s %12s %12s %12s %10s %10s%n", "method", "scale", "wall s", "CPU s",
                    "peak RSS MiB", "mk wall s", "mk CPU s", "mk RSS MiB", "wall ratio", "CPU ratio");
        }
        for (String method : settings.methods()) {
            Path cfg = models.resolve("big_" + method + ".yml");
            Files.writeString(cfg, config(method, models));
            Measurement crucible = null;
            Measurement peer = null;
            for (int r = 0; r < runs; r++) {
                crucible = Measurement.better(crucible, runChild(archive, cfg, dir.resolve("out-" + method)));
                if (mergekit != null) {
                    peer = Measurement.better(peer, runMergekit(cfg, dir.resolve("mergekit-out-" + method)));
                }
            }
            int inputs = method.equals("linear") || method.equals("slerp") ? 2 : 3;
            if (mergekit == null) {
                out.printf("%-10s %6d %9.2f %9.2f %9.2f %12.0f %8s%n", method, scale, crucible.wallSeconds(),
                        crucible.cpuSeconds(), inputs * inputBytes / 1e9 / crucible.wallSeconds(), crucible.rssMiB(),
                        threads == null ? String.valueOf(cores) : threads.toString());
            } else {
                out.printf("%-10s %6d %9.2f %9.2f %12.0f %12.2f %12s %12s %9.1fx %10s%n", method, scale,
                        crucible.wallSeconds(), crucible.cpuSeconds(), crucible.rssMiB(), peer.wallSeconds(),
                        peer.cpuNanos() < 0 ? "-" : String.format("%.2f", peer.cpuSeconds()),
                        peer.rssKiB() < 0 ? "-" : String.format("%.0f", peer.rssMiB()),
                        peer.wallSeconds() / crucible.wallSeconds(),
                        peer.cpuNanos() < 0 ? "-" : String.format("%.1fx", peer.cpuSeconds() / crucible.cpuSeconds()));
            }
            out.flush();
        }
        out.printf("finished %s UTC, load average %s; best of %d run%s per method%s%n",
                java.time.Instant.now().toString().substring(0, 19), loadAverage(), runs, runs == 1 ? "" : "s",
                mergekit == null ? "" : " (Crucible, then mergekit, in turn)");
        if (mergekit == null && scale == 1) {
            out.printf("reference only, not measured here: mergekit 0.1.4 took %s s wall on another machine and day"
                    + " (testdata/mergekit/BASELINE.md); run with --mergekit PATH to compare in this session%n",
                    settings.methods().stream().map(m -> m + " " + BASELINE_MERGEKIT_SECONDS.get(m)).toList());
        }
    }

    /** One timed run; CPU and RSS are -1 where they could not be measured. */
    record Measurement(long wallNanos, long cpuNanos, long rssKiB) {
        static Measurement better(Measurement best, Measurement run) {
            return best == null || run.wallNanos < best.wallNanos
                    ? new Measurement(run.wallNanos, run.cpuNanos, best == null ? run.rssKiB : Math.max(best.rssKiB, run.rssKiB))
                    : new Measurement(best.wallNanos, best.cpuNanos, Math.max(best.rssKiB, run.rssKiB));
        }

        double wallSeconds() {
            return wallNanos / 1e9;
        }

        double cpuSeconds() {
            return cpuNanos / 1e9;
        }

        double rssMiB() {
            return rssKiB / 1024.0;
        }
    }

    /** Runs the merge in a fresh JVM. */
    private Measurement runChild(Path archive, Path cfg, Path outDir, String... extra)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.addAll(List.of("--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"));
        cmd.addAll(List.of(settings.jvmOpts().trim().split("\\s+")));
        if (!settings.jvmOpts().contains("TransparentHugePages") && transparentHugePages()) {
            cmd.add("-XX:+UseTransparentHugePages");
        }
        cmd.addAll(List.of("-XX:+AutoCreateSharedArchive", "-XX:SharedArchiveFile=" + archive, "-Xlog:cds*=off"));
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), settings.childMain(), "merge",
                cfg.toString(), outDir.toString(), "--random-seed", "42", "--quiet", "--no-copy-tokenizer", "--overwrite"));
        cmd.addAll(List.of(extra));
        if (threads != null) {
            cmd.addAll(List.of("--threads", threads.toString()));
        }
        long start = System.nanoTime();
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes());
        int rc = p.waitFor();
        long wall = System.nanoTime() - start;
        if (rc != 0) {
            throw new CrucibleException("benchmark merge failed (exit " + rc + "):\n" + output);
        }
        long rss = output.lines().filter(l -> l.startsWith("peak_rss_kib="))
                .mapToLong(l -> Long.parseLong(l.substring("peak_rss_kib=".length()).trim())).findFirst().orElse(-1);
        long cpu = output.lines().filter(l -> l.startsWith("cpu_ns="))
                .mapToLong(l -> Long.parseLong(l.substring("cpu_ns=".length()).trim())).findFirst().orElse(-1);
        return new Measurement(wall, cpu, rss);
    }

    /**
     * Runs mergekit-yaml on the same config as BASELINE.md ran it (seed 42, quiet, no tokenizer copy), offline;
     * under GNU time where it exists, for its CPU time and peak RSS.
     */
    private Measurement runMergekit(Path cfg, Path outDir) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        Path timing = Files.isExecutable(GNU_TIME) ? Files.createTempFile(dir, "mergekit-time", ".txt") : null;
        if (timing != null) {
            cmd.addAll(List.of(GNU_TIME.toString(), "-f", "%U %S %M", "-o", timing.toString()));
        }
        cmd.add(mergekit.toString());
        if (mergekit.getFileName().toString().startsWith("python")) {
            cmd.addAll(List.of("-m", "mergekit.scripts.run_yaml"));
        }
        cmd.addAll(List.of(cfg.toString(), outDir.toString(), "--random-seed", "42", "--quiet", "--no-copy-tokenizer"));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("HF_HUB_OFFLINE", "1");
        long start = System.nanoTime();
        Process p = pb.start();
        String output = new String(p.getInputStream().readAllBytes());
        int rc = p.waitFor();
        long wall = System.nanoTime() - start;
        if (rc != 0) {
            throw new CrucibleException("mergekit failed (exit " + rc + "):\n" + output);
        }
        if (timing == null) {
            return new Measurement(wall, -1, -1);
        }
        String[] f = Files.readString(timing).trim().split("\\s+");
        Files.delete(timing);
        return new Measurement(wall, Math.round((Double.parseDouble(f[0]) + Double.parseDouble(f[1])) * 1e9),
                Long.parseLong(f[2]));
    }

    private static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }

    /** Whether the kernel offers transparent huge pages (mode always or madvise), as the launcher checks. */
    private static boolean transparentHugePages() {
        try {
            return Files.readString(Path.of("/sys/kernel/mm/transparent_hugepage/enabled"))
                    .matches("(?s).*\\[(always|madvise)\\].*");
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** BASELINE.md's configs with the paths pointing at the generated models. */
    static String config(String method, Path models) {
        String b = models.toAbsolutePath() + "/";
        return switch (method) {
            case "linear" -> "merge_method: linear\nmodels:\n  - model: " + b + "ft1\n    parameters: {weight: 0.5}\n"
                    + "  - model: " + b + "ft2\n    parameters: {weight: 0.5}\ndtype: bfloat16\n";
            case "slerp" -> "merge_method: slerp\nbase_model: " + b + "ft1\nmodels:\n  - model: " + b + "ft1\n"
                    + "  - model: " + b + "ft2\nparameters:\n  t:\n    - filter: self_attn\n"
                    + "      value: [0, 0.5, 0.3, 0.7, 1]\n    - filter: mlp\n      value: [1, 0.5, 0.7, 0.3, 0]\n"
                    + "    - value: 0.5\ndtype: bfloat16\n";
            default -> "merge_method: " + method + "\nbase_model: " + b + "base\nmodels:\n  - model: " + b + "ft1\n"
                    + "    parameters: {density: " + (method.equals("ties") ? "0.5" : "0.53") + ", weight: 0.5}\n"
                    + "  - model: " + b + "ft2\n    parameters: {density: " + (method.equals("ties") ? "0.5" : "0.53")
                    + ", weight: 0.5}\nparameters: {normalize: true, int8_mask: true}\ndtype: bfloat16\n";
        };
    }
}
