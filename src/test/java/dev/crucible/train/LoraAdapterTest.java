package dev.crucible.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.CrucibleException;
import dev.crucible.io.Checkpoint;
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
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LoraAdapterTest {
    static final Path ADAPTERS = Path.of("testdata/hf/adapters");
    static final Path BASE = Path.of("testdata/hf/models/llama");
    static final List<String> SEVEN = List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");

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

    @ParameterizedTest
    @ValueSource(strings = {"lora", "rslora", "dora"})
    void newAdapterHasExactlyThePeftFixturesNamesShapesAndConfigKeys(String kind) throws IOException {
        LoraConfig config = LoraConfig.create(4, 8, 0.0, SEVEN, kind.equals("rslora"), kind.equals("dora"));
        try (Checkpoint base = Checkpoint.open(BASE)) {
            LoraAdapter.create(config, base, 7).save(tmp.resolve("new"));
        }
        Path fixture = ADAPTERS.resolve(kind);
        assertEquals(headerShapes(fixture), headerShapes(tmp.resolve("new")));
        ObjectNode want = json(fixture);
        ObjectNode got = json(tmp.resolve("new"));
        assertEquals(keys(want), keys(got));
        assertEquals(targetSet(want), targetSet(got));
        want.remove("target_modules");
        got.remove("target_modules");
        assertEquals(want, got, "every other key has PEFT's value for the same settings");
    }

    @Test
    void peftInitialisationIsKaimingUniformAZeroBAndDoraStartsAtTheBase() {
        LoraConfig config = LoraConfig.create(4, 8, 0.05, SEVEN, false, true);
        try (Checkpoint base = Checkpoint.open(BASE)) {
            LoraAdapter adapter = LoraAdapter.create(config, base, 1);
            for (LoraModule m : adapter.modules().values()) {
                double bound = 1 / Math.sqrt(m.in());
                double sum = 0;
                double max = 0;
                for (float v : m.a()) {
                    assertTrue(Math.abs(v) <= bound, m.path());
                    sum += v;
                    max = Math.max(max, Math.abs(v));
                }
                assertTrue(max > 0.9 * bound, "A spans the Kaiming bound");
                assertTrue(Math.abs(sum / m.a().length) < 0.2 * bound, "A is centred");
                for (float v : m.b()) {
                    assertEquals(0f, v);
                }
                float[] w = base.tensor(m.path() + ".weight").toFloatArray();
                float[] merged = w.clone();
                m.mergeInto(merged);
                for (int i = 0; i < w.length; i++) {
                    assertEquals(w[i], merged[i], 1e-6f * Math.max(1, Math.abs(w[i])), m.path());
                }
            }
        }
    }

    @Test
    void allLinearWrapsEveryLayerLinearAndSavesTheExpandedNames() throws IOException {
        LoraConfig config = LoraConfig.create(2, 4, 0, List.of("all-linear"), false, false);
        try (Checkpoint base = Checkpoint.open(BASE)) {
            LoraAdapter adapter = LoraAdapter.create(config, base, 3);
            assertEquals(21, adapter.modules().size());
            assertFalse(adapter.modules().containsKey("lm_head"));
            adapter.save(tmp.resolve("al"));
        }
        assertEquals(new TreeSet<>(SEVEN), targetSet(json(tmp.resolve("al"))));
        assertEquals(21, LoraAdapter.load(tmp.resolve("al")).modules().size());
    }

    @Test
    void fullPathsAndRegexTargetsMatchAsPeftMatchesThem() {
        LoraConfig byList = LoraConfig.create(4, 8, 0, List.of("self_attn.q_proj", "model.layers.1.mlp.up_proj"), false, false);
        assertTrue(byList.targets("model.layers.0.self_attn.q_proj"));
        assertTrue(byList.targets("model.layers.1.mlp.up_proj"));
        assertFalse(byList.targets("model.layers.0.mlp.up_proj"));
        assertFalse(byList.targets("model.layers.0.self_attn.qq_proj"));
        ObjectNode n = byList.json();
        n.put("target_modules", ".*layers\\.[01]\\..*(q|v)_proj");
        n.putObject("rank_pattern").put("v_proj", 2);
        n.putObject("alpha_pattern").put("layers\\.1\\.self_attn\\.q_proj", 16);
        LoraConfig regex = LoraConfig.create(4, 8, 0, SEVEN, false, false);
        try (Checkpoint base = Checkpoint.open(BASE)) {
            Path dir = tmp.resolve("rx");
            Files.createDirectories(dir);
            Files.writeString(dir.resolve(LoraConfig.FILE), n.toString());
            LoraConfig c = LoraConfig.read(dir);
            LoraAdapter a = LoraAdapter.create(c, base, 5);
            assertEquals(Set.of("model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj",
                    "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"), a.modules().keySet());
            assertEquals(2, a.modules().get("model.layers.0.self_attn.v_proj").r());
            assertEquals(8 / 2.0, a.modules().get("model.layers.0.self_attn.v_proj").scaling());
            assertEquals(16 / 4.0, a.modules().get("model.layers.1.self_attn.q_proj").scaling());
            assertEquals(8 / 4.0, a.modules().get("model.layers.0.self_attn.q_proj").scaling());
            assertTrue(regex.targets("model.layers.2.mlp.down_proj"));
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    @Test
    void targetThatMatchesNothingIsAnErrorNamingTheLayers() {
        LoraConfig config = LoraConfig.create(4, 8, 0, List.of("c_attn"), false, false);
        try (Checkpoint base = Checkpoint.open(BASE)) {
            CrucibleException e = assertThrows(CrucibleException.class, () -> LoraAdapter.create(config, base, 1));
            assertTrue(e.getMessage().contains("[c_attn]"), e.getMessage());
            assertTrue(e.getMessage().contains("q_proj"), e.getMessage());
        }
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

    static Map<String, float[]> tensors(Path file) {
        Map<String, float[]> out = new TreeMap<>();
        try (SafetensorsFile sf = SafetensorsFile.open(file)) {
            for (String n : sf.tensors().keySet()) {
                out.put(n, sf.tensor(n).toFloatArray());
            }
        }
        return out;
    }

    /** name -> dtype and shape, and the file's metadata, from the adapter's safetensors header. */
    static Map<String, String> headerShapes(Path dir) {
        Map<String, String> out = new TreeMap<>();
        try (SafetensorsFile sf = SafetensorsFile.open(dir.resolve(LoraAdapter.WEIGHTS_FILE))) {
            for (TensorInfo t : sf.tensors().values()) {
                out.put(t.name(), t.dtype() + java.util.Arrays.toString(t.shape()));
            }
            out.put("__metadata__", sf.metadata().toString());
        }
        return out;
    }

    static ObjectNode json(Path dir) throws IOException {
        return (ObjectNode) new ObjectMapper().readTree(dir.resolve(LoraConfig.FILE).toFile());
    }

    static Set<String> keys(JsonNode n) {
        Set<String> out = new HashSet<>();
        n.fieldNames().forEachRemaining(out::add);
        return out;
    }

    static Set<String> targetSet(JsonNode n) {
        Set<String> out = new TreeSet<>();
        n.get("target_modules").forEach(t -> out.add(t.asText()));
        return out;
    }
}
