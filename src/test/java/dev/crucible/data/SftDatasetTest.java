package dev.crucible.data;

import dev.crucible.CrucibleException;
import dev.crucible.io.ModelDirectory;
import dev.crucible.model.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.crucible.data.DataFixtures.msg;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SftDatasetTest {
    @TempDir
    Path tmp;

    @Test
    void threeSourcesSplitPackedAndCounted() throws Exception {
        ModelDirectory model = ModelDirectory.open(DataFixtures.bytelevelModel(tmp));
        List<Map<String, String>> alpaca = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            alpaca.add(Map.of("instruction", "Count to " + i, "output", "1 2 3 ".repeat(i + 1)));
        }
        DataFixtures.writeJsonl(tmp.resolve("alpaca.jsonl"), alpaca);
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            s.execute("COPY (SELECT [{'role': 'user', 'content': 'q' || i}, {'role': 'assistant', 'content': 'answer ' || i}]"
                    + " AS messages FROM range(6) r(i) ORDER BY i) TO '" + tmp.resolve("chat.parquet") + "' (FORMAT parquet)");
        }
        Files.writeString(tmp.resolve("docs.csv"), "body\n" + "long document ".repeat(150) + "\nshort one\n");

        List<DatasetSpec> specs = List.of(
                DatasetSpec.fromConfig(Map.of("path", "alpaca.jsonl", "type", "alpaca"), 0, tmp),
                DatasetSpec.fromConfig(Map.of("path", "chat.parquet", "type", "messages"), 1, tmp),
                DatasetSpec.fromConfig(Map.of("path", "docs.csv", "type", "completion", "field", "body"), 2, tmp));
        SftDataset.Config config = new SftDataset.Config(specs, "chatml", 256, false, true, 0.25, 42);
        try (Tokenizer tokenizer = Tokenizer.load(model.path())) {
            SftDataset ds = SftDataset.load(config, model, tokenizer);
            DatasetStats stats = ds.stats();
            assertEquals(20, stats.rows());
            assertEquals(20, stats.examples());
            assertEquals(5, ds.validation().size()); // ceil(0.25 * 20)
            assertEquals(15, ds.train().size());
            long tokens = 0;
            long truncated = 0;
            for (SftExample e : concat(ds.train(), ds.validation())) {
                tokens += e.length();
                truncated += e.length() == 256 ? 1 : 0;
            }
            assertEquals(tokens, stats.tokens());
            assertTrue(stats.truncated() >= 1 && stats.truncated() <= truncated, stats.toString());
            assertTrue(stats.truncatedTokens() > 0);
            assertEquals(256, stats.maxLength());

            List<PackedSequence> packed = ds.trainSequences();
            long packedTokens = packed.stream().mapToLong(PackedSequence::length).sum();
            assertEquals(ds.train().stream().mapToLong(SftExample::length).sum(), packedTokens);
            assertEquals(15, packed.stream().mapToInt(PackedSequence::examples).sum());
            assertTrue(packed.size() < 15, "packing merged examples: " + packed.size());
            assertTrue(packed.stream().allMatch(p -> p.length() <= 256));
            assertEquals(5, ds.validationSequences().stream().mapToInt(PackedSequence::examples).sum());

            String summary = stats.summary(256);
            assertTrue(summary.startsWith("dataset: 20 rows -> 20 examples"), summary);

            SftDataset again = SftDataset.load(config, model, tokenizer);
            assertEquals(ds.validation().size(), again.validation().size());
            for (int i = 0; i < ds.validation().size(); i++) {
                assertEquals(java.util.Arrays.toString(ds.validation().get(i).inputIds()),
                        java.util.Arrays.toString(again.validation().get(i).inputIds()));
            }
            // unpacked: one sequence per example
            SftDataset plain = SftDataset.load(new SftDataset.Config(specs, null, 256, false, false, 0, 1), model, tokenizer);
            assertEquals(20, plain.trainSequences().size());
        }
    }

    @Test
    void aBadRowStopsLoadingWithItsLocation() throws Exception {
        ModelDirectory model = ModelDirectory.open(DataFixtures.bytelevelModel(tmp));
        Path f = DataFixtures.writeJsonl(tmp.resolve("chat.jsonl"), List.of(
                Map.of("messages", List.of(msg("user", "a"), msg("assistant", "b"))),
                Map.of("messages", List.of(msg("user", "a"))),
                Map.of("conversation", List.of()),
                Map.of("messages", List.of(msg("user", "a"), msg("assistant", "b"))),
                Map.of("messages", List.of(Map.of("role", "user")))));
        SftDataset.Config config = new SftDataset.Config(
                List.of(new DatasetSpec(f, DatasetType.MESSAGES, null)), null, 64, false, false, 0, 1);
        try (Tokenizer tokenizer = Tokenizer.load(model.path())) {
            CrucibleException e = assertThrows(CrucibleException.class, () -> SftDataset.load(config, model, tokenizer));
            assertTrue(e.getMessage().startsWith(f + " line 3: missing field 'messages'"), e.getMessage());
            // the format error comes first; a row that only fails while rendering is reported in order as well
            Path g = DataFixtures.writeJsonl(tmp.resolve("render.jsonl"), List.of(
                    Map.of("messages", List.of(msg("user", "a"), msg("assistant", "b"))),
                    Map.of("messages", List.of(msg("user", "a"), Map.of("role", "assistant", "content", Map.of("x", 1)))),
                    Map.of("messages", List.of(msg("user", "a"), Map.of("role", "assistant", "content", Map.of("x", 2))))));
            SftDataset.Config render = new SftDataset.Config(
                    List.of(new DatasetSpec(g, DatasetType.MESSAGES, null)), null, 64, false, false, 0, 1);
            CrucibleException r = assertThrows(CrucibleException.class, () -> SftDataset.load(render, model, tokenizer));
            assertTrue(r.getMessage().startsWith(g + " line 2: the chat template failed"), r.getMessage());
        }
    }

    @Test
    void datasetEntriesAreValidated() {
        CrucibleException unknown = assertThrows(CrucibleException.class,
                () -> DatasetSpec.fromConfig(Map.of("path", "x.jsonl", "type", "alpaca", "shards", 2), 1, null));
        assertTrue(unknown.getMessage().startsWith("datasets[1]: unknown keys [shards]"), unknown.getMessage());
        CrucibleException type = assertThrows(CrucibleException.class,
                () -> DatasetSpec.fromConfig(Map.of("path", "x.jsonl", "type", "oasst"), 0, null));
        assertTrue(type.getMessage().startsWith("datasets[0]: unknown dataset type 'oasst'"), type.getMessage());
        assertThrows(CrucibleException.class, () -> DatasetSpec.fromConfig(Map.of("type", "text"), 0, null));
        assertEquals("conv", DatasetSpec.fromConfig(Map.of("path", "/d", "type", "messages", "field_messages", "conv"),
                0, Path.of("/base")).chat().messagesField());
        assertEquals(Path.of("/base/d.jsonl"),
                DatasetSpec.fromConfig(Map.of("path", "d.jsonl", "type", "text"), 0, Path.of("/base")).path());
    }

    private static List<SftExample> concat(List<SftExample> a, List<SftExample> b) {
        List<SftExample> out = new ArrayList<>(a);
        out.addAll(b);
        return out;
    }
}
