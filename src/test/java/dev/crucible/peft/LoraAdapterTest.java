package dev.crucible.peft;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.CrucibleException;
import dev.crucible.io.SafetensorsFile;
import dev.crucible.io.TensorInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

public class LoraAdapterTest {
    public static final Path ADAPTERS = Path.of("testdata/hf/adapters");
    public static final Path BASE = Path.of("testdata/hf/models/llama");
    public static final List<String> SEVEN = List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"lora", "rslora", "dora"})
    void loadsPeftFixtureWithItsScaling(String kind) {
        LoraAdapter adapter = LoraAdapter.load(ADAPTERS.resolve(kind));
        assertEquals(21, adapter.modules().size());
        LoraModule q = adapter.modules().get("model.layers.0.self_attn.q_proj");
        assertEquals(4, q.r());
        assertEquals(64, q.in());
        assertEquals(64, q.out());
        assertEquals(kind.equals("rslora") ? 8 / Math.sqrt(4) : 8.0 / 4, q.scaling(), 1e-12);
        assertEquals(kind.equals("dora"), q.isDora());
        LoraModule down = adapter.modules().get("model.layers.2.mlp.down_proj");
        assertEquals(176, down.in());
        assertEquals(64, down.out());
        assertEquals("model.layers.0.mlp.down_proj", adapter.modules().keySet().iterator().next());
    }

    @ParameterizedTest
    @ValueSource(strings = {"lora", "rslora", "dora"})
    void savedFixtureRoundTripsToTheSameNamesShapesValuesAndConfig(String kind) throws IOException {
        Path fixture = ADAPTERS.resolve(kind);
        LoraAdapter.load(fixture).save(tmp.resolve("out"));
        Map<String, float[]> expected = tensors(fixture.resolve(LoraAdapter.WEIGHTS_FILE));
        Map<String, float[]> actual = tensors(tmp.resolve("out").resolve(LoraAdapter.WEIGHTS_FILE));
        assertEquals(expected.keySet(), actual.keySet());
        expected.forEach((n, v) -> assertArrayEquals(v, actual.get(n), n));
        assertEquals(headerShapes(fixture), headerShapes(tmp.resolve("out")));
        assertEquals(json(fixture), json(tmp.resolve("out")));
    }

    @Test
    void badAdaptersAreRejectedWithTheFileAndTensorNamed() throws IOException {
        Path bad = tmp.resolve("bad");
        LoraAdapter.load(ADAPTERS.resolve("lora")).save(bad);
        ObjectNode c = json(bad);
        c.put("r", 8);
        Files.writeString(bad.resolve(LoraConfig.FILE), c.toString());
        CrucibleException e = assertThrows(CrucibleException.class, () -> LoraAdapter.load(bad));
        assertTrue(e.getMessage().contains("lora_A [4, 176]") && e.getMessage().contains("r=8"), e.getMessage());

        c.put("r", 4);
        c.put("use_dora", true);
        Files.writeString(bad.resolve(LoraConfig.FILE), c.toString());
        e = assertThrows(CrucibleException.class, () -> LoraAdapter.load(bad));
        assertTrue(e.getMessage().contains("no lora_magnitude_vector"), e.getMessage());

        c.put("use_dora", false);
        c.put("peft_type", "IA3");
        Files.writeString(bad.resolve(LoraConfig.FILE), c.toString());
        e = assertThrows(CrucibleException.class, () -> LoraAdapter.load(bad));
        assertTrue(e.getMessage().contains("adapter_config.json: 'peft_type' is 'IA3'"), e.getMessage());

        c.put("peft_type", "LORA");
        c.put("bias", "all");
        Files.writeString(bad.resolve(LoraConfig.FILE), c.toString());
        e = assertThrows(CrucibleException.class, () -> LoraAdapter.load(bad));
        assertTrue(e.getMessage().contains("'bias'"), e.getMessage());

        Path empty = tmp.resolve("empty");
        Files.createDirectories(empty);
        e = assertThrows(CrucibleException.class, () -> LoraAdapter.load(empty));
        assertTrue(e.getMessage().contains("no adapter_config.json"), e.getMessage());
    }

    @Test
    void inMemoryParameterNamesCarryTheAdapterName() {
        assertEquals("base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight",
                LoraAdapter.parameterName("model.layers.0.self_attn.q_proj", LoraAdapter.Part.A));
        assertEquals("base_model.model.model.layers.0.mlp.up_proj.lora_magnitude_vector.default.weight",
                LoraAdapter.parameterName("model.layers.0.mlp.up_proj", LoraAdapter.Part.MAGNITUDE));
        assertEquals("base_model.model.model.layers.0.mlp.up_proj.lora_magnitude_vector",
                LoraAdapter.savedName("model.layers.0.mlp.up_proj", LoraAdapter.Part.MAGNITUDE));
        assertNull(LoraAdapter.load(ADAPTERS.resolve("lora")).modules().get("model.layers.0.self_attn.q_proj").magnitude());
    }

    public static Map<String, float[]> tensors(Path file) {
        Map<String, float[]> out = new TreeMap<>();
        try (SafetensorsFile sf = SafetensorsFile.open(file)) {
            for (String n : sf.tensors().keySet()) {
                out.put(n, sf.tensor(n).toFloatArray());
            }
        }
        return out;
    }

    /** name -> dtype and shape, and the file's metadata, from the adapter's safetensors header. */
    public static Map<String, String> headerShapes(Path dir) {
        Map<String, String> out = new TreeMap<>();
        try (SafetensorsFile sf = SafetensorsFile.open(dir.resolve(LoraAdapter.WEIGHTS_FILE))) {
            for (TensorInfo t : sf.tensors().values()) {
                out.put(t.name(), t.dtype() + java.util.Arrays.toString(t.shape()));
            }
            out.put("__metadata__", sf.metadata().toString());
        }
        return out;
    }

    public static ObjectNode json(Path dir) throws IOException {
        return (ObjectNode) new ObjectMapper().readTree(dir.resolve(LoraConfig.FILE).toFile());
    }

    public static Set<String> keys(JsonNode n) {
        Set<String> out = new HashSet<>();
        n.fieldNames().forEachRemaining(out::add);
        return out;
    }

    public static Set<String> targetSet(JsonNode n) {
        Set<String> out = new TreeSet<>();
        n.get("target_modules").forEach(t -> out.add(t.asText()));
        return out;
    }
}
