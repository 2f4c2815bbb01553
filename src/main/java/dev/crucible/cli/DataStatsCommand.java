package dev.crucible.cli;

import dev.crucible.data.DatasetType;
import dev.crucible.data.recipe.EmbeddedEngine;
import dev.crucible.data.recipe.HtmlReport;
import dev.crucible.data.recipe.RecipeInput;
import dev.crucible.data.recipe.RunResult;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "stats", description = "The recipe report for one dataset without a recipe: lengths, turns, how"
        + " instructions open.")
final class DataStatsCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "INPUT", description = "Dataset file or directory (.jsonl, .json, .parquet, .csv).")
    Path input;

    @Option(names = "--type", required = true, paramLabel = "TYPE", description = "alpaca, sharegpt, messages, completion"
            + " or text.")
    String type;

    @Option(names = "--field", paramLabel = "FIELD", description = "Field to read (completion, text, messages, sharegpt).")
    String field;

    @Option(names = "--tokenizer", paramLabel = "DIR", description = "Model or tokenizer directory: lengths in tokens"
            + " (default: words).")
    Path tokenizer;

    @Option(names = "--report", required = true, paramLabel = "F.html", description = "Where the HTML report goes.")
    Path report;

    @Option(names = "--skip-errors", description = "Count unreadable rows instead of stopping at the first.")
    boolean skipErrors;

    @Mixin
    OverwriteOption overwrite;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        DatasetType t = DatasetType.parse(type);
        RecipeInput in = RecipeInput.of(input.toString(), t, field);
        RunResult r = EmbeddedEngine.statsReport(in, tokenizer, skipErrors, report, overwrite.overwrite,
                spec.commandLine().getErr(), true, Runtime.getRuntime().availableProcessors());
        out.printf(Locale.ROOT, "%,d rows, %,d %s (mean %.1f, median %d, p99 %d, max %d); report: %s%n", r.before().rows(),
                r.before().totalTokens(), r.tokens(), r.before().meanTokens(), r.before().tokenQuantile(0.5),
                r.before().tokenQuantile(0.99), Math.max(0, r.before().tokenHistogram().length - 1), report);
        out.flush();
        return 0;
    }
}
