package dev.crucible.merge;

import dev.crucible.cli.CliRun;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.ShardedWriter;
import dev.crucible.io.TensorSpec;
import dev.crucible.arch.Architecture;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static dev.crucible.merge.MergeTestSupport.FIXTURES;
import static dev.crucible.merge.MergeTestSupport.crucible;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Vocabulary merges where the models' vocabularies differ, and tied embeddings. */
class TokenizerMergeTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    /** tinytok-ft2 plus one added token "<new_tok>" (id 320) whose embedding and head rows are 0.25 and -0.5. */
    private Path modelWithExtraToken() throws Exception {
        Path src = FIXTURES.resolve("models/tinytok-ft2");
        Path dir = tmp.resolve("tinytok-extra");
        Files.createDirectories(dir);
        ObjectNode cfg = (ObjectNode) JSON.readTree(src.resolve("config.json").toFile());
        cfg.put("vocab_size", 321);
        Files.writeString(dir.resolve("config.json"), cfg.toString());
        ObjectNode tok = (ObjectNode) JSON.readTree(src.resolve("tokenizer.json").toFile());
        ObjectNode added = ((com.fasterxml.jackson.databind.node.ArrayNode) tok.get("added_tokens")).addObject();
        added.put("id", 320).put("content", "<new_tok>").put("single_word", false).put("lstrip", false)
                .put("rstrip", false).put("normalized", false).put("special", true);
        Files.writeString(dir.resolve("tokenizer.json"), tok.toString());
        Files.copy(src.resolve("tokenizer_config.json"), dir.resolve("tokenizer_config.json"));
        try (Checkpoint in = Checkpoint.open(src)) {
            List<TensorSpec> specs = new ArrayList<>();
            for (String n : in.names()) {
                long[] shape = in.info(n).shape();
                if (n.equals(Architecture.EMBED) || n.equals(Architecture.LM_HEAD)) {
                    shape = new long[]{321, shape[1]};
                }
                specs.add(new TensorSpec(n, DType.BF16, shape));
            }
            try (ShardedWriter w = new ShardedWriter(dir, specs, Long.MAX_VALUE, Map.of("format", "pt"))) {
                for (TensorSpec s : specs) {
                    float[] v = in.tensor(s.name()).toFloatArray();
                    if (s.shape()[0] == 321) {
                        float[] grown = Arrays.copyOf(v, 321 * 64);
                        Arrays.fill(grown, 320 * 64, 321 * 64, s.name().equals(Architecture.EMBED) ? 0.25f : -0.5f);
                        v = grown;
                    }
                    w.write(s.name(), Tensor.fromFloats(DType.BF16, v, s.shape()));
                }
                w.finish();
            }
        }
        return dir;
    }

    private CliRun merge(String yaml, Path out) throws Exception {
        Path cfg = tmp.resolve("cfg.yml");
        Files.writeString(cfg, yaml);
        return crucible("merge", cfg.toString(), out.toString(), "--base-dir", FIXTURES.toString(), "--quiet");
    }

    @Test
    void unionAddsMissingTokensWithTheRowsOfTheModelThatHasThem() throws Exception {
        Path extra = modelWithExtraToken();
        Path out = tmp.resolve("union");
        var r = merge("merge_method: linear\nmodels:\n  - model: models/tinytok-ft1\n    parameters: {weight: 0.5}\n"
                + "  - model: " + extra + "\n    parameters: {weight: 0.5}\ntokenizer: {source: union}\ndtype: bfloat16\n", out);
        assertEquals(0, r.exitCode(), r.err());
        JsonNode config = JSON.readTree(out.resolve("config.json").toFile());
        assertEquals(321, config.get("vocab_size").asInt());
        var vocab = TokenizerMerge.Vocab.read(out.resolve("tokenizer.json"));
        assertEquals(320, vocab.ids().get("<new_tok>"));
        assertTrue(vocab.added().get("<new_tok>").get("special").asBoolean());
        try (Checkpoint c = Checkpoint.open(out); Checkpoint fixture = Checkpoint.open(
                FIXTURES.resolve("outputs/linear_tokenizer_union"))) {
            float[] embed = c.tensor(Architecture.EMBED).toFloatArray();
            float[] head = c.tensor(Architecture.LM_HEAD).toFloatArray();
            // The shared 320 tokens merge as mergekit merged ft1 and ft2.
            assertArrayEquals(fixture.tensor(Architecture.EMBED).toFloatArray(), Arrays.copyOf(embed, 320 * 64));
            assertArrayEquals(fixture.tensor(Architecture.LM_HEAD).toFloatArray(), Arrays.copyOf(head, 320 * 64));
            // Only one model has the new token, so both sides of the merge use its row.
            for (int h = 0; h < 64; h++) {
                assertEquals(0.25f, embed[320 * 64 + h]);
                assertEquals(-0.5f, head[320 * 64 + h]);
            }
        }
    }

    @Test
    void baseVocabularyDropsTokensAndPaddingRowsAreTheMean() throws Exception {
        Path extra = modelWithExtraToken();
        Path out = tmp.resolve("base");
        var r = merge("merge_method: linear\nbase_model: models/tinytok-ft1\nmodels:\n  - model: models/tinytok-ft1\n"
                + "    parameters: {weight: 0.5}\n  - model: " + extra + "\n    parameters: {weight: 0.5}\n"
                + "tokenizer: {source: base, pad_to_multiple_of: 96}\ndtype: float32\n", out);
        assertEquals(0, r.exitCode(), r.err());
        assertEquals(384, JSON.readTree(out.resolve("config.json").toFile()).get("vocab_size").asInt());
        assertFalse(TokenizerMerge.Vocab.read(out.resolve("tokenizer.json")).ids().containsKey("<new_tok>"));
        try (Checkpoint c = Checkpoint.open(out)) {
            float[] embed = c.tensor(Architecture.EMBED).toFloatArray();
            assertEquals(384 * 64, embed.length);
            for (int h = 0; h < 64; h++) {
                double mean = 0;
                for (int row = 0; row < 320; row++) {
                    mean += embed[row * 64 + h];
                }
                mean /= 320;
                for (int row = 320; row < 384; row++) {
                    assertEquals(mean, embed[row * 64 + h], 1e-6, "padding row " + row);
                }
            }
        }
    }

    @Test
    void tiedEmbeddingsStayTiedWithoutAnLmHead() throws Exception {
        Path out = tmp.resolve("tied");
        var r = merge("merge_method: linear\nmodels:\n  - model: ../hf/models/llama3_rope_tied\n    parameters: {weight: 0.7}\n"
                + "  - model: ../hf/models/llama3_rope_tied\n    parameters: {weight: 0.3}\n", out);
        assertEquals(0, r.exitCode(), r.err());
        try (Checkpoint c = Checkpoint.open(out); Checkpoint in = Checkpoint.open(
                FIXTURES.resolve("../hf/models/llama3_rope_tied").normalize())) {
            assertFalse(c.contains(Architecture.LM_HEAD));
            assertEquals(new java.util.TreeSet<>(in.names()), new java.util.TreeSet<>(c.names()));
        }
    }
}
