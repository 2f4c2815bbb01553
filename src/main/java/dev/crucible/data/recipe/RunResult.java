package dev.crucible.data.recipe;

import java.util.List;
import java.util.Map;

/**
 * What a recipe run did, whichever engine ran it: the basis of the printed summary and the HTML report.
 *
 * @param removers      the names rows can be removed by, by code: index 0 is unused (kept), then {@code read},
 *                      {@code sample}, one per step ({@code filter}, {@code dedup:minhash}, ...), {@code weight}
 * @param counts        per input, rows by code: {@code counts[input][0]} kept (before weights' copies), else removed
 * @param written       per input, rows written to the output (weights can repeat a row)
 * @param examples      per remover name, the first removed rows in run order (where, reason, text)
 * @param passes        wall time of each pass over the data and of each dedup's clustering
 * @param stepSeconds   per step, seconds of compute spent in it over all threads (signatures, filters, ...)
 */
public record RunResult(List<String> inputNames, List<String> removers, long[][] counts, long[] written,
                        ReportStats before, ReportStats after, Map<String, List<Example>> examples, List<String> notes,
                        List<Timing> passes, double[] stepSeconds, String engine, String tokens) {

    /** A removed row shown in the report. */
    public record Example(String where, String reason, String text) implements java.io.Serializable {
    }

    /** One timed part of the run: what it did, over how many rows, in how many seconds. */
    public record Timing(String what, long rows, double seconds) {
        public double rowsPerSecond() {
            return seconds > 0 ? rows / seconds : 0;
        }
    }

    public long rowsIn() {
        long n = 0;
        for (long[] c : counts) {
            for (long v : c) {
                n += v;
            }
        }
        return n;
    }

    public long rowsKept() {
        long n = 0;
        for (long[] c : counts) {
            n += c[0];
        }
        return n;
    }

    public long rowsWritten() {
        long n = 0;
        for (long w : written) {
            n += w;
        }
        return n;
    }

    /**
     * One line of the step table: the step (or read, sample, weight), rows before it, rows it removed, and for steps
     * the compute seconds ({@code NaN} for the others).
     */
    public record StepLine(String label, long in, long removed, double seconds) {
        public long out() {
            return in - removed;
        }
    }

    /** The step table: every step of the recipe, and read, sample and weight when they removed rows. */
    public List<StepLine> stepLines(Recipe recipe) {
        List<StepLine> lines = new java.util.ArrayList<>();
        long in = rowsIn();
        for (int c = 1; c < removers.size(); c++) {
            long removed = removedBy(c);
            if (!isStep(c) && removed == 0) {
                continue;
            }
            lines.add(new StepLine(isStep(c) ? recipe.stepLabel(stepOf(c)) : removers.get(c), in, removed,
                    isStep(c) ? stepSeconds[stepOf(c)] : Double.NaN));
            in -= removed;
        }
        return lines;
    }

    /** Whether removal code {@code code} is a step of the recipe (not read, sample or weight). */
    public boolean isStep(int code) {
        return code >= RowStates.FIRST_STEP && code < removers.size() - 1;
    }

    /** The step index of a step's removal code. */
    public int stepOf(int code) {
        return code - RowStates.FIRST_STEP;
    }

    /** Rows removed by code {@code code} over all inputs. */
    public long removedBy(int code) {
        long n = 0;
        for (long[] c : counts) {
            n += c[code];
        }
        return n;
    }
}
