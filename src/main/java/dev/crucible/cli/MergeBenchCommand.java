package dev.crucible.cli;

import dev.crucible.CrucibleException;
import dev.crucible.merge.SyntheticModels;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "merge", description = {
        "Time `crucible merge` on synthetic bf16 Llama models of 443M parameters (hidden 1024, 24 layers, vocab",
        "32000; --scale 4: 108 layers, 1.76B) with the configs of mergekit's baseline. Generates base/ft1/ft2",
        "under --dir once, runs each merge in a child JVM started as ./crucible merge starts it (heap, GC,",
        "class-data archive), reports wall time, CPU time, input GB/s and peak RSS (VmHWM)."})
/** {@code crucible bench merge}: the merge benchmark of docs/BENCHMARKS.md against mergekit's baseline. */
final class MergeBenchCommand implements Callable<Integer> {
    /** mergekit 0.1.4 on the 2-core reference machine (testdata/mergekit/BASELINE.md), seconds. */
    static final Map<String, Double> MERGEKIT_SECONDS = Map.of("linear", 19.5, "slerp", 21.7, "ties", 116.1,
            "dare_ties", 47.9);
    /** mergekit's user + sys CPU seconds on that machine (BASELINE.md, run 2); slerp and linear from its table. */
    static final Map<String, Double> MERGEKIT_CPU_SECONDS = Map.of("linear", 27.1, "slerp", 25.8, "ties", 161.5,
            "dare_ties", 70.5);

    @Spec
    CommandSpec spec;

    @Option(names = "--method", split = ",", defaultValue = "linear,slerp,ties,dare_ties",
            description = "methods to time: linear, slerp, ties, dare_ties (default: all four)")
    List<String> methods;

    @Option(names = "--scale", defaultValue = "1", description = "1 (443M parameters) or 4 (108 layers, 1.76B)")
    int scale;

    @Option(names = "--dir", defaultValue = "/tmp/crucible-bench", description = "where inputs and outputs go")
    Path dir;

    @Option(names = "--threads", description = "merge threads (default: all cores)")
    Integer threads;

    @Option(names = "--runs", defaultValue = "1", description = "runs per method (the best is reported)")
    int runs;

    @Option(names = "--jvm-opts", defaultValue = "-XX:+UseSerialGC -Xmx512m",
            description = "JVM options of the timed child process (default: ${DEFAULT-VALUE}, what ./crucible merge uses;"
                    + " like the launcher, -XX:+UseTransparentHugePages is added where the kernel offers THP)")
    String jvmOpts;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        OptionChecks.oneOf(methods, "--method", "linear", "slerp", "ties", "dare_ties");
        OptionChecks.atLeast(1, runs, "--runs");
        if (threads != null) {
            OptionChecks.atLeast(1, threads, "--threads");
        }
        SyntheticModels.Shape shape = switch (scale) {
            case 1 -> SyntheticModels.Shape.BASELINE;
            case 4 -> new SyntheticModels.Shape(1024, 4096, 108, 16, 8, 32000); // 1.76B parameters, 3.98x
            default -> throw new CrucibleException("--scale: expected 1 or 4, got " + scale);
        };
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
        out.printf("%-10s %6s %9s %9s %9s %12s %12s %12s %8s%n", "method", "scale", "wall s", "CPU s", "GB/s in",
                "peak RSS MiB", "wall vs mk", "CPU vs mk", "threads");
        for (String method : methods) {
            if (!MERGEKIT_SECONDS.containsKey(method)) {
                throw new CrucibleException("--method: expected one of " + MERGEKIT_SECONDS.keySet() + ", got " + method);
            }
            Path cfg = models.resolve("big_" + method + ".yml");
            Files.writeString(cfg, config(method, models));
            double best = Double.MAX_VALUE;
            double cpu = 0;
            long rss = 0;
            for (int r = 0; r < runs; r++) {
                Path outDir = dir.resolve("out-" + method);
                long[] result = runChild(archive, cfg, outDir);
                if (result[0] / 1e9 < best) {
                    best = result[0] / 1e9;
                    cpu = result[2] / 1e9;
                }
                rss = Math.max(rss, result[1]);
            }
            int inputs = method.equals("linear") || method.equals("slerp") ? 2 : 3;
            // mergekit's baseline exists for scale 1 only.
            String wallRatio = scale == 1 ? String.format("%.1fx", MERGEKIT_SECONDS.get(method) / best) : "-";
            String cpuRatio = scale == 1 ? String.format("%.1fx", MERGEKIT_CPU_SECONDS.get(method) / cpu) : "-";
            out.printf("%-10s %6d %9.2f %9.2f %9.2f %12.0f %12s %12s %8s%n", method, scale, best, cpu,
                    inputs * inputBytes / 1e9 / best, rss / 1024.0, wallRatio, cpuRatio,
                    threads == null ? String.valueOf(cores) : threads.toString());
            out.flush();
        }
        return 0;
    }

    /** Runs the merge in a fresh JVM; returns {wall nanoseconds, peak RSS KiB, CPU nanoseconds}. */
    private long[] runChild(Path archive, Path cfg, Path outDir, String... extra)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.addAll(List.of("--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"));
        cmd.addAll(List.of(jvmOpts.trim().split("\\s+")));
        if (!jvmOpts.contains("TransparentHugePages") && transparentHugePages()) {
            cmd.add("-XX:+UseTransparentHugePages");
        }
        cmd.addAll(List.of("-XX:+AutoCreateSharedArchive", "-XX:SharedArchiveFile=" + archive, "-Xlog:cds*=off"));
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Child.class.getName(), "merge",
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
        return new long[]{wall, rss, cpu};
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


    /** The timed child: runs the command line, then reports its own peak resident set size. */
    public static final class Child {
        public static void main(String[] args) throws IOException {
            int rc = Main.run(args);
            var os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
            if (os instanceof com.sun.management.OperatingSystemMXBean sun) {
                System.out.println("cpu_ns=" + sun.getProcessCpuTime());
            }
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    System.out.println("peak_rss_kib=" + line.replaceAll("[^0-9]", ""));
                }
            }
            System.exit(rc);
        }
    }
}
