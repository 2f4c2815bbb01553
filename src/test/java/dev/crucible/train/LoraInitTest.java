package dev.crucible.train;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.CrucibleException;
import dev.crucible.io.Checkpoint;
import dev.crucible.peft.LoraAdapter;
import dev.crucible.peft.LoraConfig;
import dev.crucible.peft.LoraModule;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static dev.crucible.peft.LoraAdapterTest.BASE;
import static dev.crucible.peft.LoraAdapterTest.ADAPTERS;
import static dev.crucible.peft.LoraAdapterTest.SEVEN;
import static dev.crucible.peft.LoraAdapterTest.headerShapes;
import static dev.crucible.peft.LoraAdapterTest.json;
import static dev.crucible.peft.LoraAdapterTest.keys;
import static dev.crucible.peft.LoraAdapterTest.targetSet;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A new adapter for training ({@link LoraInit}) has PEFT's names, shapes, config keys and initialisation. */
class LoraInitTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"lora", "rslora", "dora"})
    void newAdapterHasExactlyThePeftFixturesNamesShapesAndConfigKeys(String kind) throws IOException {
        LoraConfig config = LoraConfig.create(4, 8, 0.0, SEVEN, kind.equals("rslora"), kind.equals("dora"));
        try (Checkpoint base = Checkpoint.open(BASE)) {
            LoraInit.create(config, base, 7).save(tmp.resolve("new"));
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
            LoraAdapter adapter = LoraInit.create(config, base, 1);
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
            LoraAdapter adapter = LoraInit.create(config, base, 3);
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
            LoraAdapter a = LoraInit.create(c, base, 5);
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
            CrucibleException e = assertThrows(CrucibleException.class, () -> LoraInit.create(config, base, 1));
            assertTrue(e.getMessage().contains("[c_attn]"), e.getMessage());
            assertTrue(e.getMessage().contains("q_proj"), e.getMessage());
        }
    }
}
