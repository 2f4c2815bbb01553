package dev.crucible.data;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crucible.CrucibleException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code split}, {@code data_files}, {@code name} and {@code ds_type} on the layouts of
 * {@code testdata/datasets/layouts} select the rows Hugging Face {@code datasets} loads when called as Axolotl
 * calls it ({@code splits_reference.json}, made by {@code tools/dataset_split_reference.py}).
 */
class DatasetSourceTest {
    static final Path DIR = Path.of("testdata/datasets");

    @Test
    void everyCaseSelectsTheRowsDatasetsLoads() throws Exception {
        JsonNode ref = DataFixtures.JSON.readTree(DIR.resolve("splits_reference.json").toFile());
        List<String> failures = new ArrayList<>();
        int refused = 0;
        for (JsonNode c : ref.get("cases")) {
            List<String> dataFiles = null;
            if (c.get("data_files").isTextual()) {
                dataFiles = List.of(c.get("data_files").asText());
            } else if (c.get("data_files").isArray()) {
                dataFiles = new ArrayList<>();
                for (JsonNode f : c.get("data_files")) {
                    dataFiles.add(f.asText());
                }
            }
            DatasetSource source = new DatasetSource(DIR.resolve("layouts").resolve(c.get("path").asText()), dataFiles,
                    text(c, "name"), text(c, "split"), text(c, "ds_type"));
            String got;
            try {
                got = source.read().stream().map(r -> String.valueOf(r.fields().get("id"))).toList().toString();
            } catch (CrucibleException e) {
                got = "error: " + e.getMessage();
            }
            if (c.has("error")) {
                refused++;
                if (!got.startsWith("error: ")) {
                    failures.add(c + ": read " + got + ", datasets raised " + c.get("error").asText());
                }
            } else {
                List<String> want = new ArrayList<>();
                c.get("ids").forEach(i -> want.add(i.asText()));
                if (!got.equals(want.toString())) {
                    failures.add(c + ": got " + got);
                }
            }
        }
        assertEquals(List.of(), failures);
        assertEquals(34, ref.get("cases").size());
        assertEquals(7, refused);
    }

    private static String text(JsonNode c, String key) {
        return c.get(key).isNull() ? null : c.get(key).asText();
    }

    @Test
    void errorsNameTheProblem(@TempDir Path tmp) throws Exception {
        CrucibleException hub = assertThrows(CrucibleException.class,
                () -> DatasetSource.of(Path.of("mlabonne/FineTome-100k")).read());
        assertTrue(hub.getMessage().contains("huggingface-cli download --repo-type dataset mlabonne/FineTome-100k"),
                hub.getMessage());
        Path single = DIR.resolve("layouts/single.jsonl");
        CrucibleException split = assertThrows(CrucibleException.class,
                () -> new DatasetSource(single, null, null, "test", null).read());
        assertEquals("split 'test': the dataset has no split 'test' (it has [train])", split.getMessage());
        CrucibleException empty = assertThrows(CrucibleException.class,
                () -> new DatasetSource(single, null, null, "train[:1%]", null).read());
        assertTrue(empty.getMessage().contains("selects no row of its 12"), empty.getMessage());
        CrucibleException missing = assertThrows(CrucibleException.class,
                () -> new DatasetSource(DIR.resolve("layouts/plain"), List.of("z*.jsonl"), null, null, null).read());
        assertTrue(missing.getMessage().endsWith("data_files 'z*.jsonl' matches no file"), missing.getMessage());
        CrucibleException config = assertThrows(CrucibleException.class,
                () -> new DatasetSource(DIR.resolve("layouts/configs"), null, "nope", null, null).read());
        assertTrue(config.getMessage().endsWith("no configuration 'nope'; README.md declares [main, socratic]"),
                config.getMessage());
        assertThrows(CrucibleException.class, () -> new DatasetSource(single, null, null, null, "arrow"));

        Path notes = Files.writeString(tmp.resolve("notes.log"), "first line\n\nthird\n");
        List<DatasetRow> rows = new DatasetSource(notes, null, null, null, "text").read();
        assertEquals(List.of("first line", "", "third"), rows.stream().map(r -> r.fields().get("text")).toList());
    }
}
