package dev.crucible.cli;

import dev.crucible.io.OutputCheck;
import dev.crucible.merge.ModelRef;
import dev.crucible.merge.MoeConfig;
import dev.crucible.merge.MoeMerger;
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

@Command(name = "moe", sortOptions = false, description = {
        "Build a Franken-MoE (Mixtral) from dense Llama/Mistral models with a mergekit-moe YAML config "
                + "(every mergekit-moe flag is accepted).",
        "Attention, norms and embeddings come from base_model; each expert is one model's MLP; routers are "
                + "initialised by gate_mode (hidden, hidden_avg, cheap_embed, random, uniform_random).",
        "OUT_DIR must not be, contain or lie inside the config or an input; an existing, non-empty OUT_DIR needs "
                + "--overwrite."})
final class MoeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "CONFIG.yml", description = "mergekit-moe config")
    Path config;

    @Parameters(index = "1", paramLabel = "OUT_DIR", description = "output model directory (published when complete)")
    Path out;

    @Mixin
    OverwriteOption overwrite;

    @Option(names = "--dry-run", order = 1,
            description = "check the config and models, print the output tensors; write nothing")
    boolean dryRun;

    @Option(names = "--i-understand-this-is-not-useful-without-training", order = 2,
            description = "allow every expert to be the same model")
    boolean allowAllSame;

    @Option(names = {"--load-in-4bit", "--load-in-8bit"}, order = 3,
            description = "accepted for mergekit-moe compatibility; no effect (the routers' hidden states are computed "
                    + "in the base model's dtype on the CPU)")
    boolean[] quantizedRouterInputs = new boolean[0];

    @Mixin
    MergekitOptions mergekit;

    @Override
    public Integer call() {
        PrintStream err = new PrintStream(new MergeCommand.WriterStream(spec.commandLine().getErr()), true);
        PrintStream outStream = new PrintStream(new MergeCommand.WriterStream(spec.commandLine().getOut()), true);
        mergekit.noteIgnored(err, "--allow-crimes", "--num-threads", "--lora-merge-dtype", "--load-in-4bit",
                "--load-in-8bit");
        Path[] bases = mergekit.baseDirs(config.toAbsolutePath().getParent());
        MoeMerger.Options options = new MoeMerger.Options(bases, mergekit.shardBytes(), mergekit.copyTokenizer,
                mergekit.randomSeed, mergekit.writeModelCard, allowAllSame, !mergekit.quiet);
        if (dryRun || mergekit.verbosity() > 0) {
            MoeMerger.describe(config, options, dryRun ? outStream : err);
            if (dryRun) {
                return 0;
            }
        }
        MoeConfig cfg = MoeConfig.read(config, allowAllSame, bases);
        OutputCheck check = OutputCheck.of(out, "OUT_DIR").reads("the config", config);
        for (ModelRef model : cfg.models()) {
            check.reads("the input model", model.path()).reads("the adapter", model.lora());
        }
        check.directory(overwrite.overwrite, err::println);
        long start = System.nanoTime();
        MoeMerger.merge(cfg, out, options, err);
        if (!mergekit.quiet) {
            err.printf(Locale.ROOT, "wrote the mixture of experts to %s in %.1f s%n", out, (System.nanoTime() - start) / 1e9);
        }
        return 0;
    }
}
