package dev.crucible.cli;

import dev.crucible.io.OutputCheck;
import dev.crucible.merge.LoraExtraction;
import dev.crucible.merge.ModelRef;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "extract-lora", sortOptions = false, description = {
        "Extract a PEFT LoRA adapter approximating MODEL - BASE (mergekit-extract-lora compatible: every "
                + "mergekit-extract-lora flag is accepted): a truncated SVD of each linear layer's delta; embeddings, "
                + "head and norms are saved at full rank.",
        "--out-path must not be, contain or lie inside either model; an existing, non-empty one needs --overwrite."})
final class ExtractLoraCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, order = 1, description = "fine-tuned model directory")
    String model;

    @Option(names = "--base-model", required = true, order = 2, description = "base model directory")
    String baseModel;

    @Option(names = "--out-path", required = true, order = 3, description = "adapter output directory (published when complete)")
    Path out;

    @Mixin
    OverwriteOption overwrite;

    @Option(names = "--max-rank", defaultValue = "128", order = 4, description = "maximum LoRA rank (default 128)")
    int maxRank;

    @Option(names = "--distribute-scale", negatable = true, defaultValue = "true", fallbackValue = "true", order = 5,
            description = "A = sqrt(S) Vh, B = U sqrt(S) (default); --no-distribute-scale: A = S Vh, B = U")
    boolean distributeScale;

    @Option(names = "--embed-lora", negatable = true, defaultValue = "false", fallbackValue = "true", order = 6,
            description = "factorise the embeddings too (lora_embedding_A/B) instead of saving them at full rank")
    boolean embedLora;

    @Option(names = "--save-module", order = 7,
            description = "module (full name or last component) to save at full rank; repeatable")
    List<String> saveModules = new ArrayList<>();

    @Option(names = {"-e", "--exclude-regex"}, order = 8, description = "skip modules whose name matches; repeatable")
    List<String> exclude = new ArrayList<>();

    @Option(names = {"-i", "--include-regex"}, order = 9,
            description = "extract only modules whose name matches one; repeatable")
    List<String> include = new ArrayList<>();

    @Option(names = "--sv-epsilon", defaultValue = "0", order = 10,
            description = "drop singular values at or below this (default 0)")
    double svEpsilon;

    @Option(names = "--skip-undecomposable", order = 11,
            description = "skip non-linear modules (norms) instead of saving them")
    boolean skipUndecomposable;

    @Mixin
    MergekitOptions mergekit;

    @Override
    public Integer call() {
        PrintStream err = new PrintStream(new MergeCommand.WriterStream(spec.commandLine().getErr()), true);
        // as in mergekit-extract-lora: one unsharded adapter file, its own README, no tokenizer; the seed is the
        // randomized SVD's (layers wider than 128), and the result does not depend on the thread count
        mergekit.noteIgnored(err, "--allow-crimes", "--num-threads", "--lora-merge-dtype", "--out-shard-size",
                "--copy-tokenizer", "--write-model-card");
        Path[] bases = mergekit.baseDirs();
        ModelRef ft = ModelRef.resolve(model, "--model", bases);
        ModelRef base = ModelRef.resolve(baseModel, "--base-model", bases);
        OutputCheck.of(out, "--out-path").reads("the model", ft.path()).reads("the adapter", ft.lora())
                .reads("the base model", base.path()).reads("the adapter", base.lora())
                .directory(overwrite.overwrite, err::println);
        if (mergekit.verbosity() > 0) {
            err.println("extract-lora: model " + ft + ", base " + base + ", max rank " + maxRank + " -> " + out);
        }
        String invocation = "crucible " + String.join(" ", spec.commandLine().getParseResult().originalArgs());
        long start = System.nanoTime();
        LoraExtraction.extract(out, new LoraExtraction.Options(model, baseModel, maxRank, distributeScale, embedLora,
                saveModules, exclude, include, svEpsilon, skipUndecomposable, invocation, !mergekit.quiet,
                mergekit.randomSeed), bases, err);
        if (!mergekit.quiet) {
            err.printf(Locale.ROOT, "extracted the LoRA adapter into %s in %.1f s%n", out, (System.nanoTime() - start) / 1e9);
        }
        return 0;
    }
}
