package dev.crucible.data.recipe;

import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;

/** The summary {@code crucible data run} prints: rows through each step, the passes with their speed, the files. */
public final class RunSummary {
    private RunSummary() {
    }

    public static void print(Recipe recipe, RunResult r, PrintWriter out) {
        out.printf(Locale.ROOT, "%-34s %12s %12s %12s %10s%n", "step", "rows in", "removed", "rows out", "compute s");
        for (RunResult.StepLine l : r.stepLines(recipe)) {
            out.printf(Locale.ROOT, "%-34s %,12d %,12d %,12d %10s%n", l.label(), l.in(), l.removed(), l.out(),
                    Double.isNaN(l.seconds()) ? "" : String.format(Locale.ROOT, "%.2f", l.seconds()));
        }
        out.printf(Locale.ROOT, "%nrows: %,d in, %,d kept, %,d written (%s)%n", r.rowsIn(), r.rowsKept(), r.rowsWritten(),
                r.engine());
        for (RunResult.Timing t : r.passes()) {
            if (t.rows() == 0) {
                out.printf(Locale.ROOT, "  %-60s %17s %8.2f s%n", t.what(), "", t.seconds());
            } else {
                out.printf(Locale.ROOT, "  %-60s %,12d rows %8.2f s %,10.0f rows/s%n", t.what(), t.rows(), t.seconds(),
                        t.rowsPerSecond());
            }
        }
        for (String note : r.notes()) {
            out.println("  " + note);
        }
        out.println("output:  " + recipe.output());
        out.println("removed: " + recipe.removed());
        if (recipe.report() != null) {
            out.println("report:  " + recipe.report());
        }
        out.flush();
    }

    /** What the summary says about the decontamination and MinHash steps (benchmark sizes, LSH bands). */
    static List<String> stepNotes(Recipe recipe, Benchmarks[] benchmarks) {
        List<String> notes = new java.util.ArrayList<>();
        for (int s = 0; s < recipe.steps().size(); s++) {
            if (recipe.steps().get(s) instanceof Step.Decontaminate d) {
                notes.add(String.format(Locale.ROOT, "%s: %,d benchmark rows, %,d distinct %d-word spans; %,d benchmark"
                                + " strings are shorter than %d words and cannot match", recipe.stepLabel(s),
                        benchmarks[s].rowCount(), benchmarks[s].ngramCount(), d.ngram(), benchmarks[s].shortStrings(),
                        d.ngram()));
            }
            if (recipe.steps().get(s) instanceof Step.MinHashDedup m) {
                notes.add(String.format(Locale.ROOT, "%s: threshold %.2f, %d permutations, %d-word shingles, %s hash, seed"
                                + " %d; LSH %d bands x %d rows", recipe.stepLabel(s), m.threshold(), m.numPerm(), m.ngram(),
                        m.hash().name().toLowerCase(Locale.ROOT), m.seed(), m.lsh().bands(), m.lsh().rows()));
            }
        }
        return notes;
    }
}
