package dev.crucible.data.recipe;

import dev.crucible.CrucibleException;
import dev.crucible.io.OutputCheck;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Where a recipe writes, checked before any row is read: {@code output}, {@code removed} and {@code report} are three
 * different files, and each passes the shared {@link OutputCheck} against everything the recipe reads (the recipe,
 * the inputs, the benchmark files, the tokenizer): none of them may be, contain or lie inside one, and an existing
 * file is replaced only with {@code --overwrite}. Paths with a URI scheme are Spark's to check.
 */
final class OutputPaths {
    private OutputPaths() {
    }

    static void check(Recipe recipe, boolean overwrite) {
        List<String[]> writes = new ArrayList<>();
        if (recipe.output() != null) {
            writes.add(new String[]{"output", recipe.output()});
            writes.add(new String[]{"removed", recipe.removed()});
        }
        if (recipe.report() != null) {
            writes.add(new String[]{"report", recipe.report()});
        }
        for (int w = 0; w < writes.size(); w++) {
            String[] out = writes.get(w);
            if (out[1].contains("://")) {
                continue;
            }
            for (int v = 0; v < w; v++) {
                if (Path.of(out[1]).toAbsolutePath().normalize().equals(Path.of(writes.get(v)[1]).toAbsolutePath().normalize())) {
                    throw new CrucibleException(recipe.file() + ": " + out[0] + " and " + writes.get(v)[0] + " are the"
                            + " same file (" + out[1] + "); give each its own name");
                }
            }
            OutputCheck check = OutputCheck.of(Path.of(out[1]), out[0]).reads("the recipe", recipe.file());
            for (int i = 0; i < recipe.inputs().size(); i++) {
                if (recipe.inputs().get(i).local()) {
                    check.reads("inputs[" + i + "]", recipe.inputs().get(i).localPath());
                }
            }
            for (int s = 0; s < recipe.steps().size(); s++) {
                if (recipe.steps().get(s) instanceof Step.Decontaminate d) {
                    for (String p : d.against()) {
                        check.reads(recipe.stepLabel(s) + " benchmark", Path.of(p));
                    }
                }
            }
            check.reads("the tokenizer", recipe.tokenizer());
            check.file(overwrite);
        }
    }
}
