package dev.crucible.merge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.io.Checkpoint;
import dev.crucible.arch.Architecture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SyntheticModelsTest {
    @Test
    void tiedModelHasNoHeadAndFanInScaledMatrices(@TempDir Path dir) throws IOException {
        SyntheticModels.Shape shape = new SyntheticModels.Shape(64, 128, 2, 4, 2, 256);
        SyntheticModels.writeTied(dir, shape, 2);
        JsonNode config = new ObjectMapper().readTree(dir.resolve("config.json").toFile());
        assertTrue(config.get("tie_word_embeddings").asBoolean());
        assertEquals(100000.0, config.get("rope_theta").asDouble());
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertFalse(c.names().contains(Architecture.LM_HEAD));
            assertEquals(shape.tensors().size() - 1, c.names().size());
            for (float v : c.tensor(Architecture.FINAL_NORM).toFloatArray()) {
                assertEquals(1f, v);
            }
            // down_proj has fan-in 128: std 1/sqrt(128) ~ 0.088; q_proj fan-in 64: 0.125
            assertEquals(1 / Math.sqrt(128), std(c.tensor("model.layers.1.mlp.down_proj.weight").toFloatArray()), 0.005);
            assertEquals(1 / Math.sqrt(64), std(c.tensor("model.layers.0.self_attn.q_proj.weight").toFloatArray()), 0.007);
        }
    }

    @Test
    void mergeInputsKeepTheirUntiedLayoutAndSmallWeights(@TempDir Path dir) throws IOException {
        SyntheticModels.write(dir, SyntheticModels.Shape.TINY, 0, 0, 0, 2);
        JsonNode config = new ObjectMapper().readTree(dir.resolve("config.json").toFile());
        assertFalse(config.get("tie_word_embeddings").asBoolean());
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertTrue(c.names().contains(Architecture.LM_HEAD));
            assertEquals(0.02, std(c.tensor(Architecture.LM_HEAD).toFloatArray()), 0.002);
        }
    }

    private static double std(float[] v) {
        double sum = 0;
        double sq = 0;
        for (float x : v) {
            sum += x;
            sq += (double) x * x;
        }
        double mean = sum / v.length;
        return Math.sqrt(sq / v.length - mean * mean);
    }
}
