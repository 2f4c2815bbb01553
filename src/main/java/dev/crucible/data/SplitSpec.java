package dev.crucible.data;

import dev.crucible.CrucibleException;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A dataset {@code split} as Hugging Face {@code datasets} reads it ({@code ReadInstruction}): a split name with an
 * optional slice, several joined by {@code +}: {@code train}, {@code train[:10%]}, {@code train[100:200]},
 * {@code train[-5%:]}, {@code train[:50%]+test[:10]}. Percent bounds round to the closest row (Python's
 * {@code round}, halves to even); {@code (pct1_dropremainder)} uses whole percents of the row count instead.
 * Negative bounds count from the end. A slice that selects no row is an error, as in {@code datasets}.
 */
record SplitSpec(List<Part> parts) {
    private static final Pattern PART = Pattern.compile(
            "(\\w+(?:\\.\\w+)*)(?:\\[(?:(-?[\\d_]+)(%)?)?:(?:(-?[\\d_]+)(%)?)?])?(?:\\(([^)]*)\\))?");

    /** One split with its bounds (null: open) in rows or percent. */
    record Part(String split, Integer from, Integer to, boolean percent, boolean dropRemainder) {
    }

    static SplitSpec parse(String spec) {
        List<Part> parts = new ArrayList<>();
        for (String s : spec.strip().split("\\s*\\+\\s*")) {
            Matcher m = PART.matcher(s);
            if (!m.matches()) {
                throw new CrucibleException("split '" + spec + "': unrecognized part '" + s + "' (expected e.g. train,"
                        + " train[:10%], train[100:200] or train[:50%]+test[:10])");
            }
            boolean percent = m.group(3) != null || m.group(5) != null;
            String rounding = m.group(6);
            if (rounding != null && !rounding.equals("closest") && !rounding.equals("pct1_dropremainder")) {
                throw new CrucibleException("split '" + spec + "': rounding must be closest or pct1_dropremainder");
            }
            if (rounding != null && !percent) {
                throw new CrucibleException("split '" + spec + "': a rounding applies to percent slices only");
            }
            Integer from = bound(m.group(2), percent, spec);
            Integer to = bound(m.group(4), percent, spec);
            parts.add(new Part(m.group(1), from, to, percent, "pct1_dropremainder".equals(rounding)));
        }
        return new SplitSpec(List.copyOf(parts));
    }

    private static Integer bound(String digits, boolean percent, String spec) {
        if (digits == null) {
            return null;
        }
        int v = Integer.parseInt(digits.replace("_", ""));
        if (percent && (v < -100 || v > 100)) {
            throw new CrucibleException("split '" + spec + "': percent bounds must lie in [-100, 100], got " + v);
        }
        return v;
    }

    /**
     * The selected rows: for each part the rows of its split (from {@code rowsOf}, which returns null for a split
     * the dataset does not have) sliced, in part order.
     */
    <T> List<T> select(Function<String, List<T>> rowsOf, List<String> splits, String spec) {
        List<T> out = new ArrayList<>();
        for (Part p : parts) {
            List<T> rows = rowsOf.apply(p.split());
            if (rows == null) {
                throw new CrucibleException("split '" + spec + "': the dataset has no split '" + p.split()
                        + "' (it has " + splits + ")");
            }
            int n = rows.size();
            int from = absolute(p.from(), p, n, 0, spec);
            int to = absolute(p.to(), p, n, n, spec);
            if (from < 0) {
                from = Math.max(n + from, 0);
            }
            if (to < 0) {
                to = Math.max(n + to, 0);
            }
            from = Math.min(from, n);
            to = Math.min(to, n);
            if (to <= from) {
                throw new CrucibleException("split '" + spec + "': '" + p.split() + "' sliced this way selects no row"
                        + " of its " + n);
            }
            out.addAll(rows.subList(from, to));
        }
        return out;
    }

    private static int absolute(Integer bound, Part p, int n, int open, String spec) {
        if (bound == null) {
            return open;
        }
        if (!p.percent()) {
            return bound;
        }
        if (p.dropRemainder()) {
            if (n < 100) {
                throw new CrucibleException("split '" + spec + "': pct1_dropremainder needs at least 100 rows, '"
                        + p.split() + "' has " + n);
            }
            return bound * (n / 100);
        }
        return (int) Math.rint(bound * (double) n / 100.0); // Python's round(): halves to even
    }
}
