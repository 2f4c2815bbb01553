package dev.crucible.cli;

import dev.crucible.CrucibleException;
import dev.crucible.bench.MergeBenchmark;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "merge", description = {
        "Time `crucible merge` on synthetic bf16 Llama models of 443M parameters (hidden 1024, 24 layers, vocab",
        "32000; --scale 4: 108 layers, 1.76B) with the configs of mergekit's baseline. Generates base/ft1/ft2",
        "under --dir once, runs each merge in a child JVM started as ./crucible merge starts it (heap, GC,",
        "class-data archive), reports wall time, CPU time, input GB/s and peak RSS (VmHWM). With --mergekit,",
        "each run also times mergekit-yaml on the same config right after Crucible (interleaved, best of --runs",
        "each) and prints both side by side with their ratio."})
/** {@code crucible bench merge}: options for {@link MergeBenchmark}. */
final class MergeBenchCommand implements Callable<Integer> {
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

    @Option(names = "--mergekit", paramLabel = "PATH",
            description = "mergekit-yaml (or a Python with mergekit installed) to run side by side with Crucible in"
                    + " this session; its CPU time and peak RSS are taken with /usr/bin/time where it exists")
    Path mergekit;

    @Override
    public Integer call() throws Exception {
        OptionChecks.oneOf(methods, "--method", MergeBenchmark.METHODS.toArray(String[]::new));
        OptionChecks.atLeast(1, runs, "--runs");
        if (threads != null) {
            OptionChecks.atLeast(1, threads, "--threads");
        }
        if (mergekit != null && !Files.isExecutable(mergekit)) {
            throw new CrucibleException("--mergekit: " + mergekit + " is not an executable file (give mergekit-yaml,"
                    + " or a Python with mergekit installed)");
        }
        MergeBenchmark.shape(scale); // checks --scale before any work
        new MergeBenchmark(new MergeBenchmark.Settings(methods, scale, dir, threads, runs, jvmOpts, mergekit,
                Child.class.getName())).run(spec.commandLine().getOut());
        return 0;
    }

    /** The timed child: runs the command line, then reports its own CPU time and peak resident set size. */
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
