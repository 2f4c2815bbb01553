package dev.crucible.io;

import dev.crucible.CrucibleException;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The one YAML reader: lines of keys and list items, repeated keys, unknown keys with a suggestion, one-line errors. */
class YamlFileTest {
    static final Path FILE = Path.of("cfg.yml");
    static final String TEXT = """
            base_model: m
            datasets:
              - path: a.jsonl
                type: alpaca
              - path: b.jsonl
                type: messages
            lora_r: 8
            """;

    @Test
    void everyKeyAndListItemHasItsLine() {
        YamlFile y = YamlFile.parse(TEXT, FILE, YamlFile.Duplicates.REJECT);
        assertEquals(1, y.line("base_model"));
        assertEquals(2, y.line("datasets"));
        assertEquals(3, y.line("datasets[0]"));
        assertEquals(4, y.line("datasets[0].type"));
        assertEquals(5, y.line("datasets[1]"));
        assertEquals(6, y.line("datasets[1].type"));
        assertEquals(7, y.line("lora_r"));
        assertEquals(6, y.line("datasets[1].type.deeper"), "a path the file lacks takes its nearest key's line");
        assertNull(y.line("no_such_key"));
        assertEquals(Map.of("path", "b.jsonl", "type", "messages"), ((List<?>) ((Map<?, ?>) y.root()).get("datasets")).get(1));
    }

    @Test
    void errorsNameFileAndLineWhenKnown() {
        YamlFile y = YamlFile.parse(TEXT, FILE, YamlFile.Duplicates.REJECT);
        assertEquals("cfg.yml line 7: 'lora_r' must be ...", y.error("lora_r", "'lora_r' must be ...").getMessage());
        assertEquals("cfg.yml: no line for this", y.error("", "no line for this").getMessage());
        YamlFile text = YamlFile.parse(TEXT, null, YamlFile.Duplicates.REJECT);
        assertEquals("line 4: datasets[0].type: bad", text.error("datasets[0].type", "datasets[0].type: bad").getMessage());
        // a message that begins with its key path (the merge config's form) is located by that path
        assertEquals("cfg.yml line 6: datasets[1].type: unknown", y.locate("datasets[1].type: unknown"));
        assertEquals("cfg.yml: exactly one of 'models' or 'slices'", y.locate("exactly one of 'models' or 'slices'"));
    }

    @Test
    void aRepeatedKeyIsAnErrorWithItsLineUnlessTheFormatKeepsTheLast() {
        String twice = "merge_method: linear\ndtype: float16\nmodels: []\ndtype: bfloat16\n";
        CrucibleException e = assertThrows(CrucibleException.class,
                () -> YamlFile.parse(twice, FILE, YamlFile.Duplicates.REJECT));
        assertEquals("cfg.yml: not valid YAML: line 4, column 1: found duplicate key dtype (while constructing a mapping)",
                e.getMessage());
        YamlFile last = YamlFile.parse(twice, FILE, YamlFile.Duplicates.LAST_WINS);
        assertEquals("bfloat16", ((Map<?, ?>) last.root()).get("dtype"));
        assertEquals(List.of("line 4: 'dtype' repeats line 2; the last value counts"), last.duplicates());
        assertEquals(4, last.line("dtype"), "the line of the value that counts");
        YamlFile nested = YamlFile.parse("a:\n  b: 1\n  b: 2\n", null, YamlFile.Duplicates.LAST_WINS);
        assertEquals(List.of("line 3: 'a.b' repeats line 2; the last value counts"), nested.duplicates());
        assertEquals(List.of(), YamlFile.parse(TEXT, FILE, YamlFile.Duplicates.LAST_WINS).duplicates());
    }

    @Test
    void unknownKeysAreRefusedWithTheCloseKnownOneAndTheList() {
        YamlFile y = YamlFile.parse("steps:\n  - dedup:\n      method: minhash\n      treshold: 0.8\n", FILE,
                YamlFile.Duplicates.REJECT);
        Map<?, ?> options = (Map<?, ?>) ((Map<?, ?>) ((List<?>) ((Map<?, ?>) y.root()).get("steps")).get(0)).get("dedup");
        CrucibleException e = assertThrows(CrucibleException.class, () -> y.checkKeys("steps[0].dedup", "steps[0] dedup",
                options, Set.of("method", "threshold", "num_perm")));
        assertEquals("cfg.yml line 4: steps[0] dedup: unknown option 'treshold'; did you mean threshold? (expected method,"
                + " num_perm, threshold)", e.getMessage());
        CrucibleException far = assertThrows(CrucibleException.class, () -> y.checkKeys("", "recipe",
                (Map<?, ?>) y.root(), Set.of("inputs", "output")));
        assertEquals("cfg.yml line 1: recipe: unknown key 'steps' (expected inputs, output)", far.getMessage());
    }

    @Test
    void invalidYamlIsOneLineWithItsPosition() {
        CrucibleException e = assertThrows(CrucibleException.class,
                () -> YamlFile.parse("a: [1, 2\nb: 3\n", FILE, YamlFile.Duplicates.REJECT));
        assertEquals("cfg.yml: not valid YAML: line 2, column 2: expected ',' or ']', but got : (while parsing a flow"
                + " sequence)", e.getMessage());
        assertNull(YamlFile.parse("", FILE, YamlFile.Duplicates.REJECT).root(), "an empty file is no document");
    }

    @Test
    void suggestionsAreCloseKeysOnly() {
        Set<String> known = Set.of("lora_r", "lora_alpha", "learning_rate", "seed");
        assertEquals("; did you mean lora_r?", KeySuggestion.didYouMean(List.of("lora_rnak"), known));
        assertEquals("; did you mean lora_r?", KeySuggestion.didYouMean(List.of("lora_rank"), known));
        assertEquals("; did you mean learning_rate (for learnin_rate), seed (for sed)?",
                KeySuggestion.didYouMean(List.of("learnin_rate", "sed"), known));
        assertEquals("", KeySuggestion.didYouMean(List.of("wandb_project"), known));
    }
}
