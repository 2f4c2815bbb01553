package dev.crucible.data.recipe;

import dev.crucible.CrucibleException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Where a recipe writes, checked before any row is read: {@code output}, {@code removed} and {@code report} must be
 * three different files, none of them may be, contain or lie inside anything the recipe reads (the recipe, an
 * input, a benchmark file, the tokenizer), and an existing file is replaced only with {@code --overwrite}.
 * (Interim home of the check until the shared {@code io.OutputCheck} is on main; the rules are the same.)
 */
final class OutputPaths {
    private OutputPaths() {
    }

    static void check(Recipe recipe, boolean overwrite) {
        List<String[]> reads = new ArrayList<>();
        reads.add(new String[]{"the recipe", recipe.file().toString()});
        for (int i = 0; i < recipe.inputs().size(); i++) {
            if (recipe.inputs().get(i).local()) {
                reads.add(new String[]{"inputs[" + i + "]", recipe.inputs().get(i).localPath().toString()});
            }
        }
        for (int s = 0; s < recipe.steps().size(); s++) {
            if (recipe.steps().get(s) instanceof Step.Decontaminate d) {
                for (String p : d.against()) {
                    reads.add(new String[]{recipe.stepLabel(s) + " benchmark", p});
                }
            }
        }
        if (recipe.tokenizer() != null) {
            reads.add(new String[]{"the tokenizer", recipe.tokenizer().toString()});
        }
        List<String[]> writes = new ArrayList<>();
        if (recipe.output() != null) {
            writes.add(new String[]{"output", recipe.output()});
            writes.add(new String[]{"removed", recipe.removed()});
        }
        if (recipe.report() != null) {
            writes.add(new String[]{"report", recipe.report()});
        }
        for (int w = 0; w < writes.size(); w++) {
            String key = writes.get(w)[0];
            if (writes.get(w)[1].contains("://")) {
                continue; // a cluster path: Spark's committer decides
            }
            Path out = real(Path.of(writes.get(w)[1]));
            for (int v = 0; v < w; v++) {
                if (!writes.get(v)[1].contains("://") && out.equals(real(Path.of(writes.get(v)[1])))) {
                    throw new CrucibleException(recipe.file() + ": " + key + " and " + writes.get(v)[0] + " are the same"
                            + " file (" + writes.get(w)[1] + "); give each its own name");
                }
            }
            for (String[] in : reads) {
                Path input = real(Path.of(in[1]));
                if (out.equals(input)) {
                    throw new CrucibleException(recipe.file() + ": " + key + " " + writes.get(w)[1] + " is " + in[0]
                            + "; writing there would destroy it: choose another file");
                }
                if (out.startsWith(input)) {
                    throw new CrucibleException(recipe.file() + ": " + key + " " + writes.get(w)[1] + " is inside " + in[0]
                            + " " + in[1] + " (a later run would read it as input); choose a file outside it");
                }
            }
            if (Files.isDirectory(out)) {
                throw new CrucibleException(recipe.file() + ": " + key + " " + writes.get(w)[1] + " is a directory; give a"
                        + " file name");
            }
            if (Files.exists(out) && !overwrite) {
                throw new CrucibleException(recipe.file() + ": " + key + " " + writes.get(w)[1] + " exists; pass"
                        + " --overwrite to replace it, or choose another name");
            }
        }
    }

    /** The path with symbolic links resolved, also when its last components do not exist yet. */
    private static Path real(Path p) {
        Path abs = p.toAbsolutePath().normalize();
        Path existing = abs;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing == null) {
            return abs;
        }
        try {
            return existing.toRealPath().resolve(existing.relativize(abs)).normalize();
        } catch (IOException e) {
            throw new CrucibleException(existing + ": cannot resolve: " + e.getMessage(), e);
        }
    }
}
