package dev.crucible.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.TensorInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Runs the real {@code crucible inspect} command line on the fixture models. */
class InspectCommandTest {
    static final Path MODELS = Path.of("testdata/hf/models");

    @Test
    void textSummaryOfTheShardedLlama() {
        CliRun r = CliRun.of("inspect", MODELS.resolve("llama_sharded").toString());
        assertEquals(0, r.exitCode(), r.err());
        assertEquals("", r.err());
        String out = r.out();
        assertTrue(out.contains("LlamaForCausalLM (model_type llama, registered)"), out);
        assertTrue(out.contains("parameters:      204,224 (204.22K)"), out);
        assertTrue(out.contains("dtypes:          BF16: 30 tensors, 204,224 params"), out);
        assertTrue(out.contains("shards:          5 files, 408,448 bytes of tensor data"), out);
        assertTrue(out.contains("layers:          3\n"), out);
        assertTrue(out.contains("hidden size:     64 (intermediate 176, heads 4, kv heads 2, head dim 16)"), out);
        assertTrue(out.contains("vocab size:      512\n"), out);
        assertTrue(out.contains("tied embeddings: no"), out);
        assertFalse(out.contains("MISSING"), out);
        assertFalse(out.contains("model.embed_tokens.weight"), "no tensor list without --tensors");
    }

    @Test
    void tensorsFlagListsEveryTensorWithDtypeAndShape() {
        CliRun r = CliRun.of("inspect", "--tensors", MODELS.resolve("qwen2").toString());
        assertEquals(0, r.exitCode(), r.err());
        try (Checkpoint c = Checkpoint.open(MODELS.resolve("qwen2"))) {
            for (String name : c.names()) {
                TensorInfo t = c.info(name);
                assertTrue(r.out().matches("(?s).*\\n" + name.replace(".", "\\.") + " +BF16 +"
                        + Arrays.toString(t.shape()).replace("[", "\\[").replace("]", "\\]") + "\\n.*"), name);
            }
            assertEquals(c.names().size(), r.out().lines().filter(l -> l.contains(" BF16 ")).count());
        }
    }

    @Test
    void jsonHasTheKeysScriptsNeed() throws IOException {
        CliRun r = CliRun.of("inspect", "--json", MODELS.resolve("llama_sharded").toString());
        assertEquals(0, r.exitCode(), r.err());
        assertEquals(1, r.out().lines().count(), "one JSON object on one line");
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals("LlamaForCausalLM", j.get("architecture").asText());
        assertEquals("llama", j.get("model_type").asText());
        assertEquals(204224, j.get("parameters").asLong());
        assertEquals(30, j.get("dtypes").get("BF16").asInt());
        assertEquals(3, j.get("num_layers").asInt());
        assertEquals(512, j.get("vocab_size").asInt());
        assertEquals(64, j.get("hidden_size").asInt());
        assertEquals(5, j.get("shards").asInt());
        assertEquals(408448, j.get("total_bytes").asLong());
        assertEquals(10000.0, j.get("rope_theta").asDouble());
        assertEquals(0, j.get("missing_weights").size());
        assertFalse(j.has("tensors"));
    }

    @Test
    void jsonWithTensorsMatchesTheCheckpoint() throws IOException {
        CliRun r = CliRun.of("inspect", "--json", "--tensors", MODELS.resolve("mixtral").toString());
        assertEquals(0, r.exitCode(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        try (Checkpoint c = Checkpoint.open(MODELS.resolve("mixtral"))) {
            assertEquals(c.names().size(), j.get("tensors").size());
            long params = 0;
            for (JsonNode t : j.get("tensors")) {
                TensorInfo info = c.info(t.get("name").asText());
                assertEquals(info.dtype().safetensorsName(), t.get("dtype").asText());
                long[] shape = new long[t.get("shape").size()];
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = t.get("shape").get(i).asLong();
                }
                assertEquals(Arrays.toString(info.shape()), Arrays.toString(shape));
                params += info.numel();
            }
            assertEquals(params, j.get("parameters").asLong());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "llama3_rope_tied", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3",
            "mixtral"})
    void everyFixtureFamilyIsRecognisedWithNoMissingWeights(String model) throws IOException {
        CliRun r = CliRun.of("inspect", "--json", MODELS.resolve(model).toString());
        assertEquals(0, r.exitCode(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals("registered", j.get("family").asText());
        assertEquals(0, j.get("missing_weights").size(), r.out());
        assertEquals(0, j.get("unexpected_weights").size(), r.out());
        assertEquals(3, j.get("num_layers").asInt());
    }

    private static void assertOneErrorLine(CliRun r, String... fragments) {
        assertEquals(1, r.exitCode());
        assertEquals("", r.out());
        List<String> lines = r.err().lines().toList();
        assertEquals(1, lines.size(), r.err());
        assertTrue(lines.getFirst().startsWith("error: "), r.err());
        assertFalse(r.err().contains("Exception") || r.err().contains("\tat "), r.err());
        for (String f : fragments) {
            assertTrue(lines.getFirst().contains(f), r.err());
        }
    }

    @Test
    void missingDirectory(@TempDir Path tmp) {
        assertOneErrorLine(CliRun.of("inspect", tmp.resolve("nope").toString()), tmp.resolve("nope").toString(),
                "not found");
    }

    @Test
    void directoryWithoutConfig(@TempDir Path tmp) {
        assertOneErrorLine(CliRun.of("inspect", tmp.toString()), tmp.toString(), "no config.json");
    }

    @Test
    void malformedSafetensors(@TempDir Path tmp) throws IOException {
        Files.copy(MODELS.resolve("llama/config.json"), tmp.resolve("config.json"));
        byte[] all = Files.readAllBytes(MODELS.resolve("llama/model.safetensors"));
        Files.write(tmp.resolve("model.safetensors"), Arrays.copyOf(all, 5000));
        assertOneErrorLine(CliRun.of("inspect", "--json", tmp.toString()), tmp.resolve("model.safetensors").toString(),
                "invalid safetensors file");
    }

    @Test
    void configWithoutWeights(@TempDir Path tmp) throws IOException {
        Files.copy(MODELS.resolve("llama/config.json"), tmp.resolve("config.json"));
        assertOneErrorLine(CliRun.of("inspect", tmp.toString()), tmp.toString(), "no model.safetensors");
    }

    @Test
    void brokenConfig(@TempDir Path tmp) throws IOException {
        Files.writeString(tmp.resolve("config.json"), "{\"model_type\": ");
        assertOneErrorLine(CliRun.of("inspect", tmp.toString()), tmp.resolve("config.json").toString(), "not valid JSON");
    }
}
