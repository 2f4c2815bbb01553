package dev.crucible.cli;

import dev.crucible.bench.ReadBenchmark;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;

/** {@code crucible bench ...}: benchmarks that need real files, too slow and too large for the test suite. */
@Command(name = "bench", description = "Benchmarks (see docs/BENCHMARKS.md).",
        subcommands = {BenchCommand.Read.class})
final class BenchCommand {
    @Command(name = "read", description = "Read a generated multi-GB bf16 checkpoint as float32 through Checkpoint, "
            + "compared with plain reading of the same bytes (page cache warm, same threads).")
    static final class Read implements Runnable {
        @Option(names = "--size-gb", defaultValue = "2", description = "Checkpoint size in GB (default ${DEFAULT-VALUE}).")
        double sizeGb;

        @Option(names = "--shard-mb", defaultValue = "512", description = "Shard size in MB (default ${DEFAULT-VALUE}).")
        long shardMb;

        @Option(names = "--dir", defaultValue = "${java.io.tmpdir}/crucible-bench-read",
                description = "Where the checkpoint is generated once and reused (default ${DEFAULT-VALUE}).")
        Path dir;

        @Option(names = "--threads", description = "Threads for both reads (default: all cores).")
        Integer threads;

        @Option(names = "--repeat", defaultValue = "5", description = "Timed runs of each (default ${DEFAULT-VALUE}).")
        int repeat;

        @Spec
        CommandSpec spec;

        @Override
        public void run() {
            int n = threads != null ? threads : Runtime.getRuntime().availableProcessors();
            ReadBenchmark bench = new ReadBenchmark(n, System.err);
            ReadBenchmark.Result r = bench.run(dir, (long) (sizeGb * 1e9), shardMb * 1_000_000L, repeat);
            PrintWriter out = spec.commandLine().getOut();
            out.printf(Locale.ROOT, "checkpoint: %s (%.2f GB bf16, %d shards, %d tensors), %d threads, %d runs%n",
                    dir, r.bytes() / 1e9, r.shards(), r.tensors(), n, repeat);
            out.printf(Locale.ROOT, "plain read (mapped, summed):       best %6.2f GB/s  median %6.2f GB/s%n",
                    r.plainBest(), r.plainMedian());
            out.printf(Locale.ROOT, "Checkpoint -> float32 (readFloats): best %6.2f GB/s  median %6.2f GB/s%n",
                    r.floatBest(), r.floatMedian());
            out.printf(Locale.ROOT, "ratio float32/plain: best %.2f  median %.2f%n", r.floatBest() / r.plainBest(),
                    r.floatMedian() / r.plainMedian());
            out.printf(Locale.ROOT, "per CPU-second: plain best %.2f GB, float32 best %.2f GB, ratio %.2f%n",
                    ReadBenchmark.best(r.plainGbPerCpuS()), ReadBenchmark.best(r.floatGbPerCpuS()),
                    ReadBenchmark.best(r.floatGbPerCpuS()) / ReadBenchmark.best(r.plainGbPerCpuS()));
            out.flush();
        }
    }
}
