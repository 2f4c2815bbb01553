package dev.crucible.data.recipe;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The numbers the report draws for a set of rows (the input as read, or the output as written): exact histograms
 * of token lengths and of turns, and counts of the opening words of the instructions. Mergeable, so partial stats
 * of threads or Spark partitions add up to the same totals.
 */
public final class ReportStats implements Serializable {
    /** Distinct openings kept before new ones are counted as "other" (bounded memory on huge corpora). */
    static final int MAX_OPENINGS = 100_000;

    private long rows;
    private long[] tokens = new long[64];
    private long[] turns = new long[8];
    private final Map<String, Long> firstWords = new HashMap<>();
    private final Map<String, Long> openings = new HashMap<>();
    private long otherOpenings;

    /** Counts one row: its token (or word) count, turns and instruction. {@code words} is scratch. */
    public void add(int tokenCount, int turnCount, String instruction, Words words) {
        rows++;
        tokens = bump(tokens, tokenCount);
        turns = bump(turns, turnCount);
        words.split(instruction);
        if (words.count() == 0) {
            return;
        }
        String first = words.word(0);
        String pair = words.count() > 1 ? first + " " + words.word(1) : first;
        if (openings.size() < MAX_OPENINGS || openings.containsKey(pair)) {
            openings.merge(pair, 1L, Long::sum);
            firstWords.merge(first, 1L, Long::sum);
        } else {
            otherOpenings++;
        }
    }

    public ReportStats merge(ReportStats o) {
        rows += o.rows;
        tokens = addAll(tokens, o.tokens);
        turns = addAll(turns, o.turns);
        o.firstWords.forEach((k, v) -> firstWords.merge(k, v, Long::sum));
        o.openings.forEach((k, v) -> openings.merge(k, v, Long::sum));
        otherOpenings += o.otherOpenings;
        return this;
    }

    public long rows() {
        return rows;
    }

    /** Rows with each token count (index = count). */
    public long[] tokenHistogram() {
        return trimmed(tokens);
    }

    public long[] turnHistogram() {
        return trimmed(turns);
    }

    /** The {@code q}-quantile of token counts (0 for no rows). */
    public int tokenQuantile(double q) {
        long target = (long) Math.ceil(q * rows);
        long seen = 0;
        for (int i = 0; i < tokens.length; i++) {
            seen += tokens[i];
            if (seen >= Math.max(1, target)) {
                return i;
            }
        }
        return 0;
    }

    public double meanTokens() {
        double sum = 0;
        for (int i = 0; i < tokens.length; i++) {
            sum += (double) i * tokens[i];
        }
        return rows == 0 ? 0 : sum / rows;
    }

    public long totalTokens() {
        long sum = 0;
        for (int i = 0; i < tokens.length; i++) {
            sum += i * tokens[i];
        }
        return sum;
    }

    /** The most frequent first words, most frequent first (ties by word). */
    public List<Map.Entry<String, Long>> topFirstWords(int n) {
        return top(firstWords, n);
    }

    /** The most frequent second words after {@code first}. */
    public List<Map.Entry<String, Long>> topSecondWords(String first, int n) {
        Map<String, Long> seconds = new HashMap<>();
        openings.forEach((pair, count) -> {
            int space = pair.indexOf(' ');
            if (space > 0 && pair.substring(0, space).equals(first)) {
                seconds.merge(pair.substring(space + 1), count, Long::sum);
            }
        });
        return top(seconds, n);
    }

    public int distinctFirstWords() {
        return firstWords.size();
    }

    private static List<Map.Entry<String, Long>> top(Map<String, Long> counts, int n) {
        List<Map.Entry<String, Long>> list = new ArrayList<>(counts.entrySet());
        list.sort((a, b) -> a.getValue().equals(b.getValue()) ? a.getKey().compareTo(b.getKey())
                : Long.compare(b.getValue(), a.getValue()));
        return list.subList(0, Math.min(n, list.size()));
    }

    private static long[] bump(long[] h, int i) {
        if (i >= h.length) {
            h = Arrays.copyOf(h, Math.max(i + 1, h.length * 2));
        }
        h[i]++;
        return h;
    }

    private static long[] addAll(long[] a, long[] b) {
        if (b.length > a.length) {
            a = Arrays.copyOf(a, b.length);
        }
        for (int i = 0; i < b.length; i++) {
            a[i] += b[i];
        }
        return a;
    }

    private static long[] trimmed(long[] h) {
        int n = h.length;
        while (n > 0 && h[n - 1] == 0) {
            n--;
        }
        return Arrays.copyOf(h, n);
    }
}
