package dev.crucible.data.recipe;

import dev.crucible.CrucibleException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reading a recipe: defaults, and errors that name the file, the line, the step and the option. */
class RecipeTest {
    @TempDir
    Path dir;

    @BeforeEach
    void data() throws IOException {
        Files.writeString(dir.resolve("a.jsonl"), "{\"instruction\": \"i\", \"output\": \"o\"}\n");
        Files.writeString(dir.resolve("t.jsonl"), "{\"text\": \"hello\"}\n");
    }

    private Recipe read(String yaml) throws IOException {
        Path f = dir.resolve("recipe.yml");
        Files.writeString(f, yaml);
        return Recipe.read(f);
    }

    private String error(String yaml) {
        return assertThrows(CrucibleException.class, () -> read(yaml)).getMessage();
    }

    @Test
    void defaultsFollowTextDedupAndDatasketch() throws IOException {
        Recipe r = read("""
                inputs:
                  - {path: a.jsonl, type: alpaca}
                steps:
                  - dedup: {method: minhash}
                output: out/clean.jsonl
                """);
        Step.MinHashDedup m = (Step.MinHashDedup) r.steps().getFirst();
        assertEquals(0.7, m.threshold());
        assertEquals(128, m.numPerm());
        assertEquals(5, m.ngram());
        assertEquals(42, m.seed(), "the recipe's seed");
        assertEquals(new LshParams(14, 9), m.lsh(), "datasketch's choice for 0.7 and 128");
        assertEquals(MinHash.ShingleHash.XXH3, m.hash());
        assertEquals(dir.resolve("out/clean.removed.jsonl").toString(), r.removed());
        assertEquals(dir.resolve("out/clean.jsonl").toString(), r.output());
        assertNull(r.report());
        assertEquals(Recipe.Engine.DUCKDB, r.engine());
        assertEquals(1.0, r.inputs().getFirst().weight());
    }

    @Test
    void unknownStepNamesItAndItsLine() {
        String e = error("""
                inputs:
                  - {path: a.jsonl, type: alpaca}
                steps:
                  - filter: {drop_refusals: true}
                  - dedupe: {method: exact}
                output: o.jsonl
                """);
        assertTrue(e.endsWith("recipe.yml line 5: steps[1]: unknown step 'dedupe' (expected one of [filter, dedup,"
                + " decontaminate, convert])"), e);
    }

    @Test
    void unknownOptionNamesStepOptionAndLine() {
        String e = error("""
                inputs:
                  - {path: a.jsonl, type: alpaca}
                steps:
                  - dedup:
                      method: minhash
                      treshold: 0.8
                output: o.jsonl
                """);
        assertTrue(e.contains("recipe.yml line 6: steps[0] dedup (minhash): unknown option 'treshold'; did you mean threshold? (expected bands,"
                + " hash, method, ngram, num_perm, rows, seed, threshold)"), e);
    }

    @Test
    void badValuesAreNamed() {
        assertTrue(error("""
                inputs:
                  - {path: a.jsonl, type: alpaca}
                steps:
                  - dedup: {method: minhash, threshold: 1.5}
                output: o.jsonl
                """).contains("line 4: steps[0] dedup: threshold 1.5 must be a Jaccard similarity strictly between 0 and 1"));
        assertTrue(error("""
                inputs:
                  - {path: a.jsonl, type: alpaca, sample: -3}
                output: o.jsonl
                """).contains("line 2: inputs[0].sample: '-3' is not a sample"));
        assertTrue(error("""
                inputs:
                  - {path: a.jsonl, type: alpaca}
                output: o.csv
                """).contains("line 3: output: " + dir.resolve("o.csv") + " must end in .jsonl or .parquet"));
        assertTrue(error("""
                inputs:
                  - {path: missing.jsonl, type: alpaca}
                output: o.jsonl
                """).contains("line 2: inputs[0]: " + dir.resolve("missing.jsonl") + ": dataset file not found"));
        assertTrue(error("""
                inputs:
                  - {path: a.jsonl, type: alpaca}
                output: o.jsonl
                engine: hadoop
                """).contains("line 4: engine: 'hadoop' is not an engine"));
        assertTrue(error("""
                inputs:
                  - {path: a.jsonl, type: alpaca}
                output: o.jsonl
                seeds: 3
                """).contains("line 4: recipe: unknown key 'seeds'"));
    }

    @Test
    void tokenBoundsNeedATokenizer() {
        assertTrue(error("""
                inputs:
                  - {path: a.jsonl, type: alpaca}
                steps:
                  - filter: {max_tokens: 100}
                output: o.jsonl
                """).contains("line 4: steps[0] filter: min_tokens/max_tokens count tokens, so the recipe needs 'tokenizer:'"));
    }

    @Test
    void plainTextHasNoMessagesForm() {
        assertTrue(error("""
                inputs:
                  - {path: a.jsonl, type: alpaca}
                  - {path: t.jsonl, type: text}
                steps:
                  - convert: {to: messages}
                output: o.jsonl
                """).contains("line 5: steps[0] convert: inputs[1] is type text, plain text without roles"));
    }

    @Test
    void languagesAreRefusedWithoutAModel() {
        assertTrue(error("""
                inputs:
                  - {path: a.jsonl, type: alpaca}
                steps:
                  - filter: {languages: [en]}
                output: o.jsonl
                """).contains("'languages' is not supported"));
    }
}
