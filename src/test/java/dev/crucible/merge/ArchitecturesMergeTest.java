package dev.crucible.merge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.io.Checkpoint;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.TreeSet;

import static dev.crucible.merge.MergeTestSupport.crucible;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Every architecture family of the fixtures merges: a model averaged with itself (weights 0.5 / 0.5, exact in
 * bf16) must come back tensor for tensor, with the same names (tied heads stay absent, MoE experts, fused
 * projections, biases and q/k norms all planned) and the same config.
 */
class ArchitecturesMergeTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"llama", "llama3_rope_tied", "llama_sharded", "mistral", "qwen2", "qwen3", "gemma", "gemma2",
            "phi3", "mixtral"})
    void modelAveragedWithItselfIsUnchanged(String arch) throws Exception {
        Path model = Path.of("testdata/hf/models", arch).toAbsolutePath();
        Path cfg = tmp.resolve("self.yml");
        Files.writeString(cfg, "merge_method: linear\nmodels:\n  - model: " + model + "\n    parameters: {weight: 0.5}\n"
                + "  - model: " + model + "\n    parameters: {weight: 0.5}\ndtype: bfloat16\n");
        Path out = tmp.resolve("out");
        var r = crucible("merge", cfg.toString(), out.toString(), "--quiet", "--out-shard-size", "200K");
        assertEquals(0, r.exitCode(), r.err());
        try (Checkpoint in = Checkpoint.open(model); Checkpoint merged = Checkpoint.open(out)) {
            assertEquals(new TreeSet<>(in.names()), new TreeSet<>(merged.names()));
            for (String n : in.names()) {
                assertArrayEquals(in.tensor(n).toFloatArray(), merged.tensor(n).toFloatArray(), n);
            }
        }
        ObjectMapper json = new ObjectMapper();
        JsonNode a = json.readTree(model.resolve("config.json").toFile());
        JsonNode b = json.readTree(out.resolve("config.json").toFile());
        for (String key : new String[]{"architectures", "num_hidden_layers", "vocab_size", "hidden_size"}) {
            assertEquals(a.get(key), b.get(key), key);
        }
        assertEquals("bfloat16", b.get("dtype").asText());
    }
}
