package dev.crucible.data.recipe;

import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * A generated alpaca corpus whose fate under the test recipe is known row by row: unrelated documents of random
 * words (which share no 5-word shingle), exact copies, near duplicates at measured word-5-gram Jaccard (high: at
 * least 0.85; low: at most 0.45), rows containing a 13-word span of a benchmark question and near misses with 12,
 * refusals and a near miss, too short and too long rows, a malformed line and a row missing its output.
 * Documents are lowercase letter words joined by single spaces, so their 5-gram sets are computed here independently
 * of the code under test.
 */
final class PlantedCorpus {
    static final ObjectMapper JSON = new ObjectMapper();

    /** What the recipe must do with a row: stay, or be removed by a step (and, for dedups, in favour of a row). */
    record Expect(String removedBy, Integer partnerId) {
        static final Expect KEPT = new Expect(null, null);
    }

    /** A planted near-duplicate pair: the later row, the earlier one, their true word-5-gram Jaccard. */
    record Pair(int laterId, int earlierId, double jaccard) {
    }

    final Map<Integer, Expect> expected = new LinkedHashMap<>();
    final List<Pair> pairs = new ArrayList<>();
    final List<String> lines = new ArrayList<>();
    final Map<Integer, Integer> lineOfId = new LinkedHashMap<>();
    final int malformedLine;
    final int missingOutputLine;

    private final Random random;
    private final List<String> vocab = new ArrayList<>();
    private int nextId = 0;

    private PlantedCorpus(Path dir, long seed, int bases) throws IOException {
        random = new Random(seed);
        Set<String> seen = new HashSet<>();
        while (vocab.size() < 20_000) {
            StringBuilder w = new StringBuilder();
            int len = 3 + random.nextInt(6);
            for (int i = 0; i < len; i++) {
                w.append((char) ('a' + random.nextInt(26)));
            }
            if (seen.add(w.toString())) {
                vocab.add(w.toString());
            }
        }
        List<String> benchmark = new ArrayList<>();
        for (int q = 0; q < 20; q++) {
            benchmark.add(String.join(" ", words(30)));
        }
        List<String> bench = new ArrayList<>();
        for (int q = 0; q < benchmark.size(); q++) {
            bench.add(JSON.writeValueAsString(Map.of("question", benchmark.get(q), "answer", "short " + q)));
        }
        Files.write(dir.resolve("bench.jsonl"), bench);

        List<List<String>> docs = new ArrayList<>();
        List<Integer> docIds = new ArrayList<>();
        for (int b = 0; b < bases; b++) {
            List<String> doc = words(200);
            docs.add(doc);
            docIds.add(row(doc, Expect.KEPT));
        }
        // exact copies of the first 20 documents (another id, same text)
        for (int b = 0; b < 20; b++) {
            row(docs.get(b), new Expect("dedup:exact", docIds.get(b)));
        }
        // near duplicates: 1 to 3 scattered substitutions give Jaccard 0.86 to 0.95 with the base
        for (int b = 20; b < 80; b++) {
            List<String> near = substitute(docs.get(b), 1 + (b % 3));
            double j = jaccard(docs.get(b), near);
            int id = row(near, new Expect("dedup:minhash", docIds.get(b)));
            pairs.add(new Pair(id, docIds.get(b), j));
        }
        // far: substitutions until the Jaccard is at most 0.25 to 0.45: both stay
        for (int b = 80; b < 140; b++) {
            List<String> far = new ArrayList<>(docs.get(b));
            double target = 0.25 + 0.05 * (b % 5);
            while (jaccard(docs.get(b), far) > target) {
                far.set(random.nextInt(far.size()), vocab.get(random.nextInt(vocab.size())));
            }
            int id = row(far, Expect.KEPT);
            pairs.add(new Pair(id, docIds.get(b), jaccard(docs.get(b), far)));
        }
        // contamination: a 13-word span of a benchmark question must go, a 12-word span stays
        for (int q = 0; q < 10; q++) {
            List<String> doc = words(150);
            String[] qw = benchmark.get(q).split(" ");
            int at = random.nextInt(30 - 13);
            doc.addAll(60, List.of(qw).subList(at, at + 13));
            row(doc, new Expect("decontaminate", null));
            List<String> miss = words(150);
            int at2 = random.nextInt(30 - 12);
            miss.addAll(60, List.of(benchmark.get(10 + q).split(" ")).subList(at2, at2 + 12));
            row(miss, Expect.KEPT);
        }
        // refusals, and a near miss that merely mentions AI
        for (int r = 0; r < 5; r++) {
            List<String> doc = words(40);
            doc.addAll(List.of("as", "an", "ai", "language", "model", "i", "cannot", "help"));
            row(doc, new Expect("filter", null));
        }
        List<String> enthusiast = words(40);
        enthusiast.addAll(List.of("as", "an", "ai", "enthusiast", "i", "can", "help"));
        row(enthusiast, Expect.KEPT);
        // too short (under min_tokens 10) and too long (over max_tokens 4000)
        row(List.of("hi", "ok"), new Expect("filter", null));
        row(words(3000), new Expect("filter", null));
        // unreadable rows (on_error: skip)
        lines.add("{\"id\": 99999, \"instruction\": \"broken");
        malformedLine = lines.size();
        expected.put(-1, new Expect("read", null));
        lines.add(JSON.writeValueAsString(Map.of("id", 99998, "instruction", "no output here")));
        missingOutputLine = lines.size();
        expected.put(-2, new Expect("read", null));
        Files.write(dir.resolve("train.jsonl"), lines);
    }

    static PlantedCorpus write(Path dir, long seed, int bases) throws IOException {
        return new PlantedCorpus(dir, seed, bases);
    }

    /** An alpaca row: the first 8 words are the instruction, the rest the output (the text keeps the word order). */
    private int row(List<String> doc, Expect expect) throws IOException {
        int id = nextId++;
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("id", id);
        int cut = Math.min(8, doc.size() - 1);
        row.put("instruction", String.join(" ", doc.subList(0, cut)));
        row.put("input", "");
        row.put("output", String.join(" ", doc.subList(cut, doc.size())));
        lines.add(JSON.writeValueAsString(row));
        lineOfId.put(id, lines.size());
        expected.put(id, expect);
        return id;
    }

    private List<String> words(int n) {
        List<String> w = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            w.add(vocab.get(random.nextInt(vocab.size())));
        }
        return w;
    }

    /** {@code k} substitutions at least 10 words apart, each by a word the document does not have. */
    private List<String> substitute(List<String> doc, int k) {
        List<String> out = new ArrayList<>(doc);
        for (int i = 0; i < k; i++) {
            int pos = 20 + i * 60 + random.nextInt(10);
            out.set(pos, "zz" + vocab.get(random.nextInt(vocab.size())));
        }
        return out;
    }

    /** Word-5-gram Jaccard of two word lists (the definition MinHash estimates). */
    static double jaccard(List<String> a, List<String> b) {
        Set<String> x = shingles(a);
        Set<String> y = shingles(b);
        Set<String> inter = new HashSet<>(x);
        inter.retainAll(y);
        Set<String> union = new HashSet<>(x);
        union.addAll(y);
        return (double) inter.size() / union.size();
    }

    private static Set<String> shingles(List<String> w) {
        Set<String> s = new HashSet<>();
        for (int i = 0; i + 5 <= w.size(); i++) {
            s.add(String.join(" ", w.subList(i, i + 5)));
        }
        return s;
    }
}
