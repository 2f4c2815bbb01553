package dev.crucible.data.recipe;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.CrucibleException;
import dev.crucible.data.DatasetReader;
import dev.crucible.data.DatasetSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The benchmark side of {@code decontaminate}: every word {@code n}-gram (lowercased, {@link Words}) of every string
 * value of every row of the benchmark files, nested lists and objects included; each string is its own text, so no
 * span crosses from a question into its answer. A training row is contaminated when one of its own n-grams is in
 * this set. Strings shorter than {@code n} words contribute nothing (a span must have {@code n} words to match).
 * N-grams are kept as 64-bit XXH3 hashes with the first benchmark row that has them.
 */
public final class Benchmarks implements java.io.Serializable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final int ngram;
    private final LongIntMap index;
    private final List<String> rows;
    private final int shortStrings;

    private Benchmarks(int ngram, LongIntMap index, List<String> rows, int shortStrings) {
        this.ngram = ngram;
        this.index = index;
        this.rows = rows;
        this.shortStrings = shortStrings;
    }

    /** Reads the benchmark files; {@code display} turns a file into the name reasons use. */
    public static Benchmarks load(List<String> files, int ngram, java.util.function.Function<Path, String> display) {
        LongIntMap index = new LongIntMap(1 << 16);
        List<String> rows = new ArrayList<>();
        int[] shortStrings = {0};
        Words words = new Words();
        for (String input : files) {
            DatasetSource source = DatasetSource.of(Path.of(input));
            for (Path file : source.files()) {
                DatasetReader.stream(file, source.fileFormat(file), (unit, number, json) -> {
                    Object value;
                    try {
                        value = JSON.readValue(json, Object.class);
                    } catch (JsonProcessingException e) {
                        throw new CrucibleException(file + " " + unit + " " + number + ": not valid JSON: "
                                + e.getOriginalMessage(), e);
                    }
                    int row = rows.size();
                    rows.add(display.apply(file) + " " + unit + " " + number);
                    shortStrings[0] += addStrings(value, words, ngram, index, row);
                });
            }
        }
        return new Benchmarks(ngram, index, rows, shortStrings[0]);
    }

    private static int addStrings(Object value, Words words, int n, LongIntMap index, int row) {
        int tooShort = 0;
        switch (value) {
            case String s -> {
                words.split(s);
                int count = words.fullNgramCount(n);
                if (count == 0 && words.count() > 0) {
                    tooShort++;
                }
                for (int i = 0; i < count; i++) {
                    index.putIfAbsent(hash(words, i, n), row);
                }
            }
            case Map<?, ?> m -> {
                for (Object v : m.values()) {
                    tooShort += addStrings(v, words, n, index, row);
                }
            }
            case List<?> l -> {
                for (Object v : l) {
                    tooShort += addStrings(v, words, n, index, row);
                }
            }
            case null, default -> {
            }
        }
        return tooShort;
    }

    static long hash(Words words, int i, int n) {
        int start = words.start(i);
        return Xxh3.hash64(words.bytes(), start, words.end(i + n - 1) - start, 0);
    }

    public int ngram() {
        return ngram;
    }

    public int rowCount() {
        return rows.size();
    }

    public int ngramCount() {
        return index.size();
    }

    /** Benchmark strings with words but fewer than {@code ngram} of them: they can never match. */
    public int shortStrings() {
        return shortStrings;
    }

    /**
     * Why {@code text} is contaminated (the first shared span and the benchmark row), or null when it shares none.
     * {@code words} is the caller's scratch.
     */
    public String match(String text, Words words) {
        words.split(text);
        int count = words.fullNgramCount(ngram);
        for (int i = 0; i < count; i++) {
            int row = index.get(hash(words, i, ngram));
            if (row >= 0) {
                StringBuilder span = new StringBuilder();
                for (int w = i; w < i + ngram; w++) {
                    span.append(w > i ? " " : "").append(words.word(w));
                }
                return "shares the " + ngram + "-word span '" + span + "' with " + rows.get(row);
            }
        }
        return null;
    }

    /** The benchmark rows' locations, for Spark's broadcast copy. */
    List<String> rows() {
        return rows;
    }
}
