package dev.crucible.data.recipe;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.CrucibleException;
import dev.crucible.data.DatasetReader;
import dev.crucible.data.DatasetRow;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The embedded engine's behaviour beyond the planted-truth corpus: errors, outputs, sampling, weights, formats. */
class EmbeddedEngineTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private Path alpaca(String name, int rows) throws IOException {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < rows; i++) {
            lines.add(JSON.writeValueAsString(Map.of("id", i, "instruction", "Tell me fact " + i, "input", "",
                    "output", "Fact number " + i + " is that " + "word".repeat(i % 5 + 1))));
        }
        return Files.write(dir.resolve(name), lines);
    }

    private RunResult run(String yaml) throws IOException {
        return run(yaml, 2, false);
    }

    private RunResult run(String yaml, int threads, boolean overwrite) throws IOException {
        Path f = dir.resolve("recipe.yml");
        Files.writeString(f, yaml);
        Recipe r = Recipe.read(f);
        r.checkOutputs(overwrite);
        return EmbeddedEngine.run(r, new PrintWriter(new StringWriter()), false, threads);
    }

    private List<JsonNode> rows(String file) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(dir.resolve(file))) {
            out.add(JSON.readTree(line));
        }
        return out;
    }

    private List<String> files() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void aMalformedLineStopsTheRunBeforeAnythingIsWritten() throws IOException {
        alpaca("a.jsonl", 5);
        Files.writeString(dir.resolve("a.jsonl"), "{\"instruction\": \"x\", \"output\": oops}\n",
                java.nio.file.StandardOpenOption.APPEND);
        CrucibleException e = assertThrows(CrucibleException.class, () -> run("""
                inputs: [{path: a.jsonl, type: alpaca}]
                steps: [{dedup: {method: exact}}]
                output: out.jsonl
                """));
        assertTrue(e.getMessage().startsWith("a.jsonl line 6: not valid JSON"), e.getMessage());
        assertTrue(e.getMessage().endsWith("(on_error: skip would send it to the removed file)"), e.getMessage());
        assertEquals(List.of("a.jsonl", "recipe.yml"), files(), "no output, no removed file, no temporary file");
    }

    @Test
    void outputsAreCheckedBeforeWork() throws IOException {
        alpaca("a.jsonl", 3);
        String onInput = assertThrows(CrucibleException.class, () -> run("""
                inputs: [{path: a.jsonl, type: alpaca}]
                output: a.jsonl
                """)).getMessage();
        assertTrue(onInput.contains("output " + dir.resolve("a.jsonl") + " is inputs[0] ") && onInput.contains(
                "writing there would destroy it"), onInput);
        String same = assertThrows(CrucibleException.class, () -> run("""
                inputs: [{path: a.jsonl, type: alpaca}]
                output: o.jsonl
                removed: o.jsonl
                """)).getMessage();
        assertTrue(same.contains("removed and output are the same file"), same);
        run("""
                inputs: [{path: a.jsonl, type: alpaca}]
                output: o.jsonl
                """);
        String exists = assertThrows(CrucibleException.class, () -> run("""
                inputs: [{path: a.jsonl, type: alpaca}]
                output: o.jsonl
                """)).getMessage();
        assertTrue(exists.contains("output " + dir.resolve("o.jsonl") + " exists; pass --overwrite"), exists);
        run("""
                inputs: [{path: a.jsonl, type: alpaca}]
                output: o.jsonl
                """, 2, true);
        assertEquals(3, rows("o.jsonl").size());
    }

    @Test
    void samplesAreSeededDrawsOfExactSize() throws IOException {
        alpaca("a.jsonl", 100);
        alpaca("b.jsonl", 40);
        String recipe = """
                inputs:
                  - {path: a.jsonl, type: alpaca, sample: 10}
                  - {path: b.jsonl, type: alpaca, sample: 0.25}
                output: o.jsonl
                seed: %d
                """;
        RunResult r = run(recipe.formatted(1));
        assertEquals(20, r.rowsKept());
        assertEquals(120, r.removedBy(RowStates.SAMPLE));
        List<String> first = Files.readAllLines(dir.resolve("o.jsonl"));
        run(recipe.formatted(1), 1, true);
        assertEquals(first, Files.readAllLines(dir.resolve("o.jsonl")), "same seed, same rows");
        run(recipe.formatted(2), 2, true);
        assertNotEquals(first, Files.readAllLines(dir.resolve("o.jsonl")), "another seed, other rows");
        JsonNode removed = rows("o.removed.jsonl").getFirst();
        assertEquals("sample", removed.get("removed_by").textValue());
        assertTrue(removed.get("reason").textValue().startsWith("not drawn: sample 10 of inputs[0] keeps 10 of 100 rows"));
    }

    @Test
    void weightsDropOrRepeatRows() throws IOException {
        alpaca("a.jsonl", 40);
        alpaca("b.jsonl", 10);
        alpaca("c.jsonl", 20);
        RunResult r = run("""
                inputs:
                  - {path: a.jsonl, type: alpaca, weight: 0.5}
                  - {path: b.jsonl, type: alpaca, weight: 2}
                  - {path: c.jsonl, type: alpaca, weight: 1.5}
                output: o.jsonl
                """);
        assertArrayEquals(new long[]{20, 20, 30}, r.written());
        assertEquals(20, r.removedBy(RowStates.FIRST_STEP), "the weight draw, after the (zero) steps");
        assertEquals(70, rows("o.jsonl").size());
        assertEquals(20, rows("o.removed.jsonl").size());
        assertEquals("weight", rows("o.removed.jsonl").getFirst().get("removed_by").textValue());
    }

    @Test
    void convertMixesAlpacaAndShareGptIntoMessages() throws IOException {
        Files.writeString(dir.resolve("a.jsonl"), """
                {"id": "a1", "instruction": "Add", "input": "2 and 2", "output": "4"}
                {"id": "a2", "instruction": "Say hi", "output": "hi"}
                """);
        Files.writeString(dir.resolve("s.jsonl"), """
                {"id": "s1", "conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}]}
                """);
        run("""
                inputs:
                  - {path: a.jsonl, type: alpaca}
                  - {path: s.jsonl, type: sharegpt}
                steps:
                  - convert: {to: messages}
                output: o.jsonl
                """);
        List<String> out = Files.readAllLines(dir.resolve("o.jsonl"));
        assertEquals(List.of(
                "{\"id\":\"a1\",\"messages\":[{\"role\":\"user\",\"content\":\"Add\\n\\n2 and 2\"},{\"role\":\"assistant\",\"content\":\"4\"}]}",
                "{\"id\":\"a2\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hi\"},{\"role\":\"assistant\",\"content\":\"hi\"}]}",
                "{\"id\":\"s1\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"Hi\"},{\"role\":\"assistant\",\"content\":\"Hello\"}]}"),
                out);
    }

    @Test
    void preferencePairsAreDedupedOnTheirWholeTextAndFilteredOnTheChosenReply() throws IOException {
        Files.writeString(dir.resolve("p.jsonl"), """
                {"id": 1, "prompt": "What is 2+2?", "chosen": "4", "rejected": "5"}
                {"id": 2, "prompt": "What is 2+2?", "chosen": "4", "rejected": "5"}
                {"id": 3, "prompt": "What is 2+2?", "chosen": "4", "rejected": "22"}
                {"id": 4, "prompt": "Insult me.", "chosen": "I'm sorry, but I can't help with that.", "rejected": "No."}
                {"id": 5, "prompt": "Be rude.", "chosen": "No.", "rejected": "I'm sorry, but I can't help with that."}
                {"id": 6, "chosen": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}], "rejected": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Go away"}]}
                """);
        Files.writeString(dir.resolve("k.jsonl"), """
                {"id": 7, "prompt": "What is 2+2?", "completion": "4", "label": true}
                {"id": 8, "prompt": "What is 2+2?", "completion": "4", "label": true}
                """);
        run("""
                inputs:
                  - {path: p.jsonl, type: preference}
                  - {path: k.jsonl, type: kto}
                steps:
                  - dedup: {method: exact}
                  - filter: {drop_refusals: true}
                output: o.jsonl
                removed: o.removed.jsonl
                """);
        // 2 repeats 1 (prompt, chosen and rejected all count); 4's chosen reply is a refusal, 5's refused answer is
        // the rejected one, which is what a preference pair is for; 8 repeats 7
        assertEquals(List.of(1, 3, 5, 6, 7), rows("o.jsonl").stream().map(r -> r.get("id").intValue()).toList());
        assertEquals(List.of(2, 4, 8), rows("o.removed.jsonl").stream().map(r -> r.get("id").intValue()).sorted().toList());
    }

    @Test
    void parquetInParquetOutKeepsEveryValue() throws Exception {
        Path in = dir.resolve("in.parquet");
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            s.execute("COPY (SELECT i AS id, 'Question ' || (i % 7) AS instruction, '' AS input, 'Answer ' || (i % 7) AS"
                    + " output, i * 0.5 AS score FROM range(50) t(i)) TO '" + in + "' (FORMAT parquet)");
        }
        RunResult r = run("""
                inputs: [{path: in.parquet, type: alpaca}]
                steps: [{dedup: {method: exact}}]
                output: out.parquet
                removed: gone.parquet
                """);
        assertEquals(7, r.rowsKept());
        List<DatasetRow> kept = DatasetReader.read(dir.resolve("out.parquet"));
        List<DatasetRow> gone = DatasetReader.read(dir.resolve("gone.parquet"));
        assertEquals(7, kept.size());
        assertEquals(43, gone.size());
        Set<Long> ids = new HashSet<>();
        for (DatasetRow row : kept) {
            long id = ((Number) row.fields().get("id")).longValue();
            ids.add(id);
            assertEquals(id * 0.5, ((Number) row.fields().get("score")).doubleValue());
            assertEquals("Answer " + id % 7, row.fields().get("output"));
        }
        assertEquals(Set.of(0L, 1L, 2L, 3L, 4L, 5L, 6L), ids);
        assertEquals("dedup:exact", gone.getFirst().fields().get("removed_by"));
        assertEquals("exact duplicate of in.parquet row 1", gone.getFirst().fields().get("reason"));
        assertFalse(files().stream().anyMatch(f -> f.contains("crucible-tmp")), files().toString());
    }

    @Test
    void aSplitReadsOnlyItsFiles() throws IOException {
        Files.createDirectories(dir.resolve("ds"));
        Files.writeString(dir.resolve("ds/train-00000-of-00002.jsonl"), "{\"text\": \"one\"}\n");
        Files.writeString(dir.resolve("ds/train-00001-of-00002.jsonl"), "{\"text\": \"two\"}\n");
        Files.writeString(dir.resolve("ds/test.jsonl"), "{\"text\": \"three\"}\n");
        Files.writeString(dir.resolve("ds/trainer_notes.jsonl"), "{\"text\": \"not a split file\"}\n");
        RunResult r = run("""
                inputs: [{path: ds, type: text, split: train}]
                output: o.jsonl
                """);
        assertEquals(2, r.rowsIn());
        assertEquals(List.of("{\"text\": \"one\"}", "{\"text\": \"two\"}"), Files.readAllLines(dir.resolve("o.jsonl")));
    }

    @Test
    void resultsDoNotDependOnTheThreadCount() throws IOException {
        PlantedCorpus.write(dir, 5, 150);
        String recipe = """
                inputs: [{path: train.jsonl, type: alpaca}]
                steps:
                  - filter: {drop_refusals: true}
                  - dedup: {method: minhash, threshold: 0.7}
                  - decontaminate: {against: bench.jsonl}
                output: o.jsonl
                on_error: skip
                """;
        run(recipe, 1, false);
        byte[] out1 = Files.readAllBytes(dir.resolve("o.jsonl"));
        byte[] removed1 = Files.readAllBytes(dir.resolve("o.removed.jsonl"));
        run(recipe, 3, true);
        assertArrayEquals(out1, Files.readAllBytes(dir.resolve("o.jsonl")));
        assertArrayEquals(removed1, Files.readAllBytes(dir.resolve("o.removed.jsonl")));
    }

    @Test
    void statsWritesTheReportOfOneDataset() throws IOException {
        alpaca("a.jsonl", 30);
        Path report = dir.resolve("stats.html");
        RunResult r = EmbeddedEngine.statsReport(RecipeInput.of(dir.resolve("a.jsonl").toString(),
                        dev.crucible.data.DatasetType.ALPACA, null), null, false, report, false,
                new PrintWriter(new StringWriter()), false, 2);
        assertEquals(30, r.before().rows());
        assertEquals(30, r.before().topFirstWords(1).getFirst().getValue(), "every instruction opens with 'tell'");
        String html = Files.readString(report);
        assertTrue(html.contains("<title>Dataset statistics</title>"));
        assertTrue(html.contains("tell"));
    }
}
