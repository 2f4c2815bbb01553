package dev.crucible.cli;

import dev.crucible.bench.ReadBenchmark;
import dev.crucible.bench.RuntimeBenchmark;
import dev.crucible.io.StagedDirectory;
import dev.crucible.merge.SyntheticModels;
import dev.crucible.model.Transformer;
import dev.crucible.tensor.DType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code crucible bench ...}: benchmarks that need real files, too slow and too large for the test suite. */
@Command(name = "bench", description = "Benchmarks (see docs/BENCHMARKS.md).",
        subcommands = {BenchCommand.Read.class, BenchCommand.RuntimeBench.class, MergeBenchCommand.class,
                SftBenchCommand.class, BenchCommand.Svd.class, GgufBenchCommand.class, BenchCommand.EvalTasks.class})
final class BenchCommand {
    @Command(name = "eval-tasks", mixinStandardHelpOptions = true,
            description = "requests/s of `eval tasks` on a 4-choice 5-shot multiple-choice task (~600 tokens of "
                    + "context) with a SmolLM2-135M-shaped random model; --prepare-only writes the files that "
                    + "tools/lm_eval_bench.sh also gives lm-eval.")
    static final class EvalTasks implements Runnable {
        @Option(names = "--dir", defaultValue = "/tmp/crucible-bench/eval-tasks", description = "default ${DEFAULT-VALUE}")
        Path dir;

        @Option(names = "--tokenizer", defaultValue = "testdata/hf/tokenizers/bytelevel_bpe",
                description = "tokenizer directory for the random model; default ${DEFAULT-VALUE}")
        Path tokenizer;

        @Option(names = "--docs", defaultValue = "6", description = "documents evaluated (4 requests each)")
        int docs;

        @Option(names = "--prepare-only", description = "write the model, task and data, do not run")
        boolean prepareOnly;

        @Override
        public void run() {
            OptionChecks.atLeast(1, docs, "--docs");
            dev.crucible.bench.TasksBenchmark.prepare(dir, tokenizer, docs);
            if (!prepareOnly) {
                dev.crucible.bench.TasksBenchmark.run(dir, System.out);
            }
        }
    }

    @Command(name = "svd", description = "extract-lora's truncated SVD on a synthetic delta with a decaying spectrum: "
            + "randomized path, and with --exact the exact Jacobi path it replaces (cubic: minutes from 1024 up).")
    static final class Svd implements Runnable {
        @Spec
        CommandSpec spec;

        @Option(names = "--rows", defaultValue = "2048")
        int rows;

        @Option(names = "--cols", defaultValue = "2048")
        int cols;

        @Option(names = "--rank", defaultValue = "32")
        int rank;

        @Option(names = "--exact", description = "also time the exact Jacobi SVD")
        boolean exact;

        @Option(names = "--seed", defaultValue = "0")
        long seed;

        @Override
        public void run() {
            OptionChecks.atLeast(1, rows, "--rows");
            OptionChecks.atLeast(1, cols, "--cols");
            OptionChecks.atLeast(1, rank, "--rank");
            dev.crucible.bench.SvdBenchmark.run(rows, cols, rank, exact, seed, spec.commandLine().getOut());
        }
    }

    private static void section(PrintWriter out, String title, ReadBenchmark.Series plain,
                                ReadBenchmark.Series asFloat) {
        out.println(title);
        row(out, "  plain read (mapped, summed)", plain.wallGbps(), plain.gbPerCpuS());
        row(out, "  Checkpoint -> float32 (Tensor.readFloats)", asFloat.wallGbps(), asFloat.gbPerCpuS());
        out.printf(Locale.ROOT, "%-44s %8.2f %8.2f   %8.2f %8.2f%n", "  ratio float32 / plain",
                ReadBenchmark.best(asFloat.wallGbps()) / ReadBenchmark.best(plain.wallGbps()),
                ReadBenchmark.median(asFloat.wallGbps()) / ReadBenchmark.median(plain.wallGbps()),
                ReadBenchmark.best(asFloat.gbPerCpuS()) / ReadBenchmark.best(plain.gbPerCpuS()),
                ReadBenchmark.median(asFloat.gbPerCpuS()) / ReadBenchmark.median(plain.gbPerCpuS()));
    }

    private static void row(PrintWriter out, String label, double[] wall, double[] cpu) {
        out.printf(Locale.ROOT, "%-44s %8.2f %8.2f   %8.2f %8.2f%n", label, ReadBenchmark.best(wall),
                ReadBenchmark.median(wall), ReadBenchmark.best(cpu), ReadBenchmark.median(cpu));
    }

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
            OptionChecks.positive(sizeGb, "--size-gb");
            OptionChecks.atLeast(1, shardMb, "--shard-mb");
            OptionChecks.atLeast(1, repeat, "--repeat");
            int n = threads != null ? threads : Runtime.getRuntime().availableProcessors();
            OptionChecks.atLeast(1, n, "--threads");
            ReadBenchmark bench = new ReadBenchmark(n, System.err);
            ReadBenchmark.Result r = bench.run(dir, (long) (sizeGb * 1e9), shardMb * 1_000_000L, repeat);
            PrintWriter out = spec.commandLine().getOut();
            out.printf(Locale.ROOT, "checkpoint: %s (%.2f GB bf16, %d shards, %d tensors), %d threads, %d runs%n",
                    dir, r.bytes() / 1e9, r.shards(), r.tensors(), n, repeat);
            out.printf(Locale.ROOT, "%-44s %17s   %17s%n", "", "wall GB/s", "GB per CPU-second");
            out.printf(Locale.ROOT, "%-44s %8s %8s   %8s %8s%n", "", "best", "median", "best", "median");
            section(out, "open + map each run (cold page tables):", r.plain(), r.asFloat());
            section(out, "mapped once before the runs:", r.plainMapped(), r.floatMapped());
            out.flush();
        }
    }

    @Command(name = "runtime", mixinStandardHelpOptions = true,
            description = "Matmul GFLOP/s, copy bandwidth, and prefill/decode tokens/s of a SmolLM2-135M-shaped "
                    + "model with random bf16 weights. One JSON line per measurement.")
    static final class RuntimeBench implements Callable<Integer> {
        @Option(names = "--shape", defaultValue = "smollm-135m", description = "smollm-135m or tiny")
        String shape;

        @Option(names = "--batch", defaultValue = "4")
        int batch;

        @Option(names = "--seq", defaultValue = "512")
        int seq;

        @Option(names = "--decode-tokens", defaultValue = "32")
        int decodeTokens;

        @Option(names = "--repeat", defaultValue = "3", description = "Timed prefill passes; the best is reported "
                + "(default ${DEFAULT-VALUE}).")
        int repeat;

        @Option(names = "--only", defaultValue = "matmul,copy,prefill,decode", split = ",")
        java.util.Set<String> only;

        @Override
        public Integer call() throws IOException {
            OptionChecks.oneOf(shape, "--shape", "smollm-135m", "tiny");
            OptionChecks.oneOf(only, "--only", "matmul", "copy", "prefill", "decode");
            OptionChecks.atLeast(1, batch, "--batch");
            OptionChecks.atLeast(1, seq, "--seq");
            OptionChecks.atLeast(1, decodeTokens, "--decode-tokens");
            SyntheticModels.Shape s = shape.equals("tiny") ? SyntheticModels.Shape.ANCHOR_TINY
                    : SyntheticModels.Shape.SMOLLM_135M;
            RuntimeBenchmark bench = new RuntimeBenchmark(System.out);
            if (only.contains("matmul")) {
                bench.matmul(DType.BF16, 512, s.hidden(), s.intermediate(), 20);
                bench.matmul(DType.F32, 512, s.hidden(), s.intermediate(), 20);
                bench.matmul(DType.BF16, 1, s.hidden(), s.intermediate(), 200);
            }
            RuntimeBenchmark.Bandwidth bandwidth = only.contains("copy") || only.contains("decode")
                    ? bench.bandwidth() : null;
            if (only.contains("prefill") || only.contains("decode")) {
                Path tmp = Files.createTempDirectory("crucible-bench-");
                try (StagedDirectory dir = StagedDirectory.create(tmp.resolve("model"))) {
                    SyntheticModels.writeTied(dir.path(), s, Runtime.getRuntime().availableProcessors());
                    try (Transformer model = Transformer.load(dir.path())) {
                        if (only.contains("prefill")) {
                            bench.prefill(model, batch, seq, repeat);
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
