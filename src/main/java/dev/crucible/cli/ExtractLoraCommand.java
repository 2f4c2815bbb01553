package dev.crucible.cli;

import dev.crucible.ProgressBar;
import dev.crucible.merge.LoraExtraction;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "extract-lora", description = {
        "Extract a PEFT LoRA adapter approximating MODEL - BASE (mergekit-extract-lora compatible): a truncated SVD "
                + "of each linear layer's delta; embeddings, head and norms are saved at full rank."})
final class ExtractLoraCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, description = "fine-tuned model directory")
    String model;

    @Option(names = "--base-model", required = true, description = "base model directory")
    String baseModel;

    @Option(names = "--out-path", required = true, description = "adapter output directory (written atomically)")
    Path out;

    @Option(names = "--max-rank", defaultValue = "128", description = "maximum LoRA rank (default 128)")
    int maxRank;

    @Option(names = "--distribute-scale", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "A = sqrt(S) Vh, B = U sqrt(S) (default); --no-distribute-scale: A = S Vh, B = U")
    boolean distributeScale;

    @Option(names = "--embed-lora", negatable = true, defaultValue = "false", fallbackValue = "true",
            description = "factorise the embeddings too (lora_embedding_A/B) instead of saving them at full rank")
    boolean embedLora;

    @Option(names = "--save-module", description = "module (full name or last component) to save at full rank; repeatable")
    List<String> saveModules = new ArrayList<>();

    @Option(names = {"-e", "--exclude-regex"}, description = "skip modules whose name matches; repeatable")
    List<String> exclude = new ArrayList<>();

    @Option(names = {"-i", "--include-regex"}, description = "extract only modules whose name matches one; repeatable")
    List<String> include = new ArrayList<>();

    @Option(names = "--sv-epsilon", defaultValue = "0", description = "drop singular values at or below this (default 0)")
    double svEpsilon;

    @Option(names = "--skip-undecomposable", description = "skip non-linear modules (norms) instead of saving them")
    boolean skipUndecomposable;

    @Option(names = "--base-dir", paramLabel = "DIR", description = "directory relative model paths are resolved against")
    Path baseDir;

    @Option(names = "--quiet", description = "no progress bar")
    boolean quiet;

    @Option(names = "--random-seed", defaultValue = "0", description = "seed of the randomized SVD used for layers "
            + "wider than 128 (default 0); the result does not depend on the thread count")
    long randomSeed;

    @Option(names = {"--copy-tokenizer", "--no-copy-tokenizer", "--cuda", "--lazy-unpickle",
            "--trust-remote-code", "--multi-gpu"}, arity = "0..1",
            description = "accepted for mergekit compatibility and ignored (no tokenizer is written)")
    List<String> ignored;

    @Override
    public Integer call() {
        PrintStream err = new PrintStream(new MergeCommand.WriterStream(spec.commandLine().getErr()), true);
        Path cwd = Path.of("").toAbsolutePath();
        Path[] bases = baseDir == null ? new Path[]{cwd} : new Path[]{cwd, baseDir};
        String invocation = "crucible " + String.join(" ", spec.commandLine().getParseResult().originalArgs());
        long start = System.nanoTime();
        LoraExtraction.extract(out, new LoraExtraction.Options(model, baseModel, maxRank, distributeScale, embedLora,
                saveModules, exclude, include, svEpsilon, skipUndecomposable, invocation,
                !quiet && ProgressBar.interactive(), randomSeed), bases, err);
        if (!quiet) {
            err.printf(Locale.ROOT, "extracted the LoRA adapter into %s in %.1f s%n", out, (System.nanoTime() - start) / 1e9);
        }
        return 0;
    }
}
