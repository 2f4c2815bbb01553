package dev.crucible.cli;

import dev.crucible.data.recipe.EmbeddedEngine;
import dev.crucible.data.recipe.Recipe;
import dev.crucible.data.recipe.RunResult;
import dev.crucible.data.recipe.RunSummary;
import dev.crucible.data.recipe.SparkEngine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "run", description = "Run a dataset recipe: read the inputs, apply the steps (filter, dedup exact or"
        + " MinHash, decontaminate, convert) in order, write the kept rows to `output`, every dropped row with"
        + " removed_by and reason to `removed`, and an HTML report. See README (Dataset recipes).")
final class DataRunCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "RECIPE.yml", description = "The recipe.")
    Path recipeFile;

    @Mixin
    OverwriteOption overwrite;

    @Option(names = "--threads", paramLabel = "N", description = "Worker threads of the embedded engine (default: all"
            + " cores).")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = "--quiet", description = "No progress bars.")
    boolean quiet;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Recipe recipe = Recipe.read(recipeFile);
        recipe.checkOutputs(overwrite.overwrite);
        if (recipe.engine() == Recipe.Engine.SPARK) {
            return SparkEngine.run(recipe, overwrite.overwrite, out, err);
        }
        RunResult result = EmbeddedEngine.run(recipe, err, !quiet, Math.max(1, threads));
        RunSummary.print(recipe, result, out);
        return 0;
    }
}
