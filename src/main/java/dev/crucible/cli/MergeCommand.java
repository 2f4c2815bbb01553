package dev.crucible.cli;

import dev.crucible.io.OutputCheck;
import dev.crucible.merge.MergeConfig;
import dev.crucible.merge.MergeOptions;
import dev.crucible.merge.MergePlan;
import dev.crucible.merge.Merger;
import dev.crucible.merge.ModelRef;
import dev.crucible.tensor.DType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "merge", sortOptions = false, description = {
        "Merge models with a mergekit YAML config (mergekit-yaml compatible: every mergekit-yaml flag is accepted).",
        "Model paths in the config are local directories, relative to the working directory (then --base-dir, then "
                + "the config's directory); 'model+lora_dir' applies a PEFT LoRA adapter on the fly.",
        "OUT_DIR must not be, contain or lie inside the config or an input; an existing, non-empty OUT_DIR needs "
                + "--overwrite."})
final class MergeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "CONFIG.yml", description = "mergekit merge config")
    Path config;

    @Parameters(index = "1", paramLabel = "OUT_DIR", description = "output model directory (published when complete)")
    Path out;

    @Mixin
    OverwriteOption overwrite;

    @Option(names = "--dry-run", order = 1,
            description = "print the plan (tensors, inputs, parameters, bytes), the peak memory and the expected wall time "
                    + "(timed on the largest tensor of the inputs); write nothing")
    boolean dryRun;

    @Option(names = "--memory-budget", paramLabel = "SIZE", defaultValue = "384MiB", order = 2,
            description = "bytes of tensors being merged at once (default 384MiB); a larger tensor runs alone")
    String memoryBudget;

    @Option(names = "--fsync", order = 3, description = "force the output to disk before it is published (slower; "
            + "default: like mergekit, leave it to the kernel; the output is published atomically either way)")
    boolean fsync;

    @Mixin
    MergekitOptions mergekit;

    @Override
    public Integer call() {
        PrintStream err = new PrintStream(new WriterStream(spec.commandLine().getErr()), true);
        PrintStream outStream = new PrintStream(new WriterStream(spec.commandLine().getOut()), true);
        mergekit.noteIgnored(err);
        DType loraMergeDtype = mergekit.loraMergeDtype();
        Path[] bases = mergekit.baseDirs(config.toAbsolutePath().getParent());
        MergeOptions options = new MergeOptions(bases, mergekit.threads(), mergekit.shardBytes(),
                MergekitOptions.bytes(memoryBudget, "--memory-budget"), mergekit.copyTokenizer, mergekit.allowCrimes,
                mergekit.randomSeed, mergekit.writeModelCard, !mergekit.quiet, fsync);
        long start = System.nanoTime();
        MergeConfig cfg = MergeConfig.read(config, bases);
        OutputCheck check = OutputCheck.of(out, "OUT_DIR").reads("the config", config);
        for (ModelRef model : cfg.referencedModels()) {
            check.reads("the input model", model.path()).reads("the adapter", model.lora());
        }
        if (dryRun) {
            check.checkDirectory(overwrite.overwrite); // refuses what the real run would refuse, and touches nothing
        } else {
            check.directory(overwrite.overwrite, err::println);
        }
        try (MergePlan plan = MergePlan.build(cfg, mergekit.allowCrimes, loraMergeDtype)) {
            plan.warnings().forEach(w -> err.println("warning: " + w));
            if (dryRun || mergekit.verbosity() > 0) {
                Merger.describe(plan, options, dryRun ? outStream : err);
            }
            if (dryRun) {
                Merger.estimate(plan, options, (System.nanoTime() - start) / 1e9, out, outStream);
                return 0;
            }
            Merger.merge(plan, out, options, err);
        }
        if (!mergekit.quiet) {
            err.printf(Locale.ROOT, "merged into %s in %.1f s%n", out, (System.nanoTime() - start) / 1e9);
        }
        return 0;
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
