package dev.crucible.data.recipe;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crucible.data.DatasetReader;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The whole recipe on a generated corpus whose right answer is known row by row ({@link PlantedCorpus}): every
 * planted exact copy, near duplicate (word-5-gram Jaccard >= 0.85), 13-word benchmark span, refusal, too short or
 * too long row and unreadable line is removed by the right step for the right reason, and nothing else is; rows
 * are conserved (every input row once, kept rows byte for byte).
 */
class RecipePlantedTruthTest {
    @TempDir
    static Path dir;
    static PlantedCorpus corpus;
    static RunResult result;
    static Map<Integer, String> outputLines = new HashMap<>();
    static Map<Integer, JsonNode> removedRows = new HashMap<>();
    static List<String> removedLines;
    static List<String> outputList;

    static final String RECIPE = """
            inputs:
              - path: train.jsonl
                type: alpaca
            steps:
              - filter: {min_tokens: 10, max_tokens: 4000, drop_refusals: true}
              - dedup: {method: exact}
              - decontaminate: {against: bench.jsonl, ngram: 13}
              - dedup: {method: minhash, threshold: 0.7, num_perm: 128, ngram: 5, seed: 1}
            output: out.jsonl
            removed: removed.jsonl
            report: report.html
            tokenizer: %s
            on_error: skip
            seed: 7
            """;

    @BeforeAll
    static void run() throws IOException {
        corpus = PlantedCorpus.write(dir, 11, 300);
        Path recipeFile = dir.resolve("recipe.yml");
        Files.writeString(recipeFile, RECIPE.formatted(Path.of("testdata/hf/tokenizers/bytelevel_bpe").toAbsolutePath()));
        Recipe recipe = Recipe.read(recipeFile);
        recipe.checkOutputs(false);
        result = EmbeddedEngine.run(recipe, new PrintWriter(new StringWriter()), false, 2);
        outputList = Files.readAllLines(dir.resolve("out.jsonl"));
        for (String line : outputList) {
            outputLines.put(PlantedCorpus.JSON.readTree(line).get("id").intValue(), line);
        }
        removedLines = Files.readAllLines(dir.resolve("removed.jsonl"));
        int unreadable = -1;
        for (String line : removedLines) {
            JsonNode n = PlantedCorpus.JSON.readTree(line);
            removedRows.put(n.has("id") ? n.get("id").intValue() : unreadable--, n);
        }
    }

    @Test
    void everyInputRowIsWrittenOnceKeptRowsByteForByte() {
        assertEquals(corpus.lines.size(), outputList.size() + removedLines.size());
        assertEquals(corpus.lines.size(), result.rowsIn());
        Set<Integer> seen = new HashSet<>();
        for (Map.Entry<Integer, Integer> e : corpus.lineOfId.entrySet()) {
            boolean kept = outputLines.containsKey(e.getKey());
            boolean removed = removedRows.containsKey(e.getKey());
            assertTrue(kept ^ removed, "row id " + e.getKey() + " kept " + kept + " removed " + removed);
            assertTrue(seen.add(e.getKey()));
            String original = corpus.lines.get(e.getValue() - 1);
            if (kept) {
                assertEquals(original, outputLines.get(e.getKey()), "kept rows are the input lines, byte for byte");
            }
        }
        // a removed line is the original line with the two fields appended
        for (String line : removedLines) {
            int cut = line.lastIndexOf(",\"removed_by\":");
            String head = line.substring(0, cut);
            assertTrue(corpus.lines.contains(head + "}") || head.startsWith("{\"raw\":"), line);
        }
    }

    @Test
    void eachPlantedRowMeetsItsExpectedFate() {
        int misses = 0;
        double expectedMisses = 0;
        double variance = 0;
        LshParams lsh = LshParams.optimal(0.7, 128);
        Map<Integer, Double> jaccardOf = new HashMap<>();
        corpus.pairs.forEach(p -> jaccardOf.put(p.laterId(), p.jaccard()));
        for (Map.Entry<Integer, PlantedCorpus.Expect> e : corpus.expected.entrySet()) {
            int id = e.getKey();
            if (id < 0) {
                continue;
            }
            PlantedCorpus.Expect want = e.getValue();
            JsonNode removed = removedRows.get(id);
            if (want.removedBy() == null) {
                assertTrue(outputLines.containsKey(id), "row " + id + " must stay, removed: " + removed);
                continue;
            }
            if (want.removedBy().equals("dedup:minhash")) {
                // LSH misses a pair of Jaccard s with probability (1 - s^r)^b: allowed, counted against that rate
                double p = LshParams.candidateProbability(jaccardOf.get(id), lsh.bands(), lsh.rows());
                expectedMisses += 1 - p;
                variance += p * (1 - p);
                if (removed == null) {
                    misses++;
                    continue;
                }
            }
            assertNotNull(removed, "row " + id + " must be removed by " + want.removedBy());
            assertEquals(want.removedBy(), removed.get("removed_by").textValue(), "row " + id + ": " + removed.get("reason"));
            if (want.partnerId() != null) {
                String line = "train.jsonl line " + corpus.lineOfId.get(want.partnerId());
                String reason = removed.get("reason").textValue();
                assertTrue(reason.contains(line + " ") || reason.endsWith(line), "row " + id + ": " + reason + ", want " + line);
            }
        }
        System.out.printf("near duplicates missed: %d (LSH predicts %.2f); rows in %d, kept %d%n", misses, expectedMisses,
                result.rowsIn(), result.rowsKept());
        assertTrue(misses <= Math.ceil(expectedMisses + 3 * Math.sqrt(variance)) + 1, "MinHash missed " + misses
                + " planted near duplicates, LSH's rate predicts " + expectedMisses);
    }

    @Test
    void nearDuplicatesAreFoundAtTheirMeasuredJaccardAndFarPairsStay() {
        int high = 0;
        int low = 0;
        Pattern estimate = Pattern.compile("estimated Jaccard ([0-9.]+)");
        for (PlantedCorpus.Pair p : corpus.pairs) {
            if (p.jaccard() >= 0.85) {
                high++;
                JsonNode removed = removedRows.get(p.laterId());
                if (removed != null) {
                    Matcher m = estimate.matcher(removed.get("reason").textValue());
                    assertTrue(m.find());
                    double est = Double.parseDouble(m.group(1));
                    double sd = Math.sqrt(p.jaccard() * (1 - p.jaccard()) / 128);
                    assertTrue(Math.abs(est - p.jaccard()) <= 4 * sd + 0.005, "estimate " + est + " vs true " + p.jaccard());
                }
            } else {
                assertTrue(p.jaccard() <= 0.45 && p.jaccard() >= 0.2, "planted far pair at " + p.jaccard());
                low++;
                assertTrue(outputLines.containsKey(p.laterId()) && outputLines.containsKey(p.earlierId()),
                        "far pair (Jaccard " + p.jaccard() + ") must both stay");
            }
        }
        System.out.printf("planted pairs: %d at Jaccard %.3f-%.3f, %d at %.3f-%.3f%n", high,
                corpus.pairs.stream().mapToDouble(PlantedCorpus.Pair::jaccard).filter(j -> j >= 0.85).min().orElse(0),
                corpus.pairs.stream().mapToDouble(PlantedCorpus.Pair::jaccard).filter(j -> j >= 0.85).max().orElse(0), low,
                corpus.pairs.stream().mapToDouble(PlantedCorpus.Pair::jaccard).filter(j -> j < 0.85).min().orElse(0),
                corpus.pairs.stream().mapToDouble(PlantedCorpus.Pair::jaccard).filter(j -> j < 0.85).max().orElse(0));
        assertEquals(60, high);
        assertEquals(60, low);
    }

    @Test
    void unreadableLinesGoToRemovedWithTheirLine() {
        List<String> reasons = new ArrayList<>();
        for (JsonNode n : removedRows.values()) {
            if (n.get("removed_by").textValue().equals("read")) {
                reasons.add(n.get("reason").textValue());
            }
        }
        assertEquals(2, reasons.size(), reasons.toString());
        assertTrue(reasons.stream().anyMatch(r -> r.startsWith("train.jsonl line " + corpus.malformedLine + ": not valid JSON")),
                reasons.toString());
        assertTrue(reasons.stream().anyMatch(r -> r.startsWith("train.jsonl line " + corpus.missingOutputLine
                + ": missing field 'output'")), reasons.toString());
    }

    @Test
    void countsAndReportAgreeWithTheFiles() throws IOException {
        assertEquals(outputList.size(), result.rowsWritten());
        assertEquals(removedLines.size(), result.rowsIn() - result.rowsKept());
        String html = Files.readString(dir.resolve("report.html"));
        assertTrue(html.startsWith("<!DOCTYPE html>"));
        assertFalse(html.contains("<script"), "the report needs no script");
        assertFalse(html.contains("http://") || html.contains("https://"), "the report loads nothing");
        assertTrue(html.contains("steps[3] dedup:minhash"));
        // removed rows are shown per step, in step order
        List<String> sections = Pattern.compile("<h3>([^<]*)</h3>").matcher(html).results()
                .map(m -> m.group(1)).toList();
        assertEquals(List.of("read", "filter", "dedup:exact", "decontaminate", "dedup:minhash"), sections);
        assertEquals(outputList.size(), DatasetReader.read(dir.resolve("out.jsonl")).size());
    }

    /**
     * The report as a person sees it: headless Chromium (Debian's package, when installed) renders it without a console
     * message, and the screenshot shows the charts' bars in both series' colours and text. CI without Chromium skips.
     */
    @Test
    void reportRendersInHeadlessChromium() throws Exception {
        String chromium = Stream.of("chromium", "chromium-browser", "google-chrome")
                .flatMap(name -> Stream.of(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator))
                        .map(d -> Path.of(d, name)))
                .filter(Files::isExecutable).map(Path::toString).findFirst().orElse(null);
        Assumptions.assumeTrue(chromium != null, "no chromium on PATH");
        Path png = dir.resolve("report.png");
        Path log = dir.resolve("chromium.log");
        Process p = new ProcessBuilder(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                "--window-size=1280,2400", "--enable-logging=stderr", "--v=0", "--screenshot=" + png,
                dir.resolve("report.html").toUri().toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        assertTrue(p.waitFor(180, TimeUnit.SECONDS), "chromium timed out");
        String output = Files.readString(log);
        assertEquals(0, p.exitValue(), output);
        // page messages (script errors, failed loads reported by the page) are logged as ...:CONSOLE(line)] "text"
        assertTrue(output.lines().noneMatch(l -> l.contains(":CONSOLE")), output);
        BufferedImage image = ImageIO.read(png.toFile());
        assertEquals(1280, image.getWidth());
        int after = 0;
        int before = 0;
        int text = 0;
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                int rgb = image.getRGB(x, y) & 0xFFFFFF;
                after += rgb == 0x2f7ed8 ? 1 : 0;
                before += rgb == 0x9aa5b1 ? 1 : 0;
                text += rgb == 0x1f2933 ? 1 : 0;
            }
        }
        System.out.printf("report screenshot: %d pixels of the after colour, %d of before, %d of text%n", after, before, text);
        assertTrue(after > 5000 && before > 2000 && text > 2000, after + " " + before + " " + text);
    }
}
