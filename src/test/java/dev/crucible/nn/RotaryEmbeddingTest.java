package dev.crucible.nn;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.CrucibleException;
import dev.crucible.io.ModelConfig;
import dev.crucible.tensor.VectorMath;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RotaryEmbeddingTest {
    static ModelConfig config(String ropeJson) throws Exception {
        ObjectNode c = (ObjectNode) new ObjectMapper().readTree("{\"rope_theta\": 10000, \"max_position_embeddings\": 4096"
                + (ropeJson == null ? "" : ", \"rope_scaling\": " + ropeJson) + "}");
        return ModelConfig.of(c);
    }

    @Test
    void defaultFrequenciesAreThetaPowers() throws Exception {
        float[] f = RotaryEmbedding.fromConfig(config(null), 8).inverseFrequencies();
        assertEquals(4, f.length);
        for (int i = 0; i < 4; i++) {
            assertEquals((float) Math.pow(10000, -2.0 * i / 8), f[i], 0f);
        }
    }

    @Test
    void linearScalingDividesEveryFrequency() throws Exception {
        float[] base = RotaryEmbedding.fromConfig(config(null), 64).inverseFrequencies();
        float[] lin = RotaryEmbedding.fromConfig(config("{\"rope_type\": \"linear\", \"factor\": 4.0}"), 64)
                .inverseFrequencies();
        for (int i = 0; i < base.length; i++) {
            assertEquals(base[i] / 4, lin[i], base[i] * 1e-6);
        }
    }

    @Test
    void llama3KeepsHighFrequenciesScalesLowOnesAndSmoothsBetween() throws Exception {
        float[] base = RotaryEmbedding.fromConfig(config(null), 128).inverseFrequencies();
        float[] l3 = RotaryEmbedding.fromConfig(config("{\"rope_type\": \"llama3\", \"factor\": 8.0, "
                + "\"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192}"), 128)
                .inverseFrequencies();
        int kept = 0, scaled = 0, smoothed = 0;
        for (int i = 0; i < base.length; i++) {
            double wavelen = 2 * Math.PI / base[i];
            if (wavelen < 8192 / 4.0) {
                assertEquals(base[i], l3[i], 0f);
                kept++;
            } else if (wavelen > 8192 / 1.0) {
                assertEquals(base[i] / 8, l3[i], base[i] * 1e-6);
                scaled++;
            } else {
                assertTrue(l3[i] < base[i] && l3[i] > base[i] / 8);
                smoothed++;
            }
        }
        assertTrue(kept > 0 && scaled > 0 && smoothed > 0);
    }

    @Test
    void yarnScalesAttentionAndInterpolatesOnlyLowFrequencies() throws Exception {
        RotaryEmbedding yarn = RotaryEmbedding.fromConfig(config("{\"rope_type\": \"yarn\", \"factor\": 4.0, "
                + "\"original_max_position_embeddings\": 1024}"), 64);
        float[] base = RotaryEmbedding.fromConfig(config(null), 64).inverseFrequencies();
        float[] f = yarn.inverseFrequencies();
        assertEquals(base[0], f[0], 0f); // fastest rotation extrapolated
        assertEquals(base[31] / 4, f[31], base[31] * 1e-6); // slowest interpolated
        RotaryEmbedding.Table t = yarn.table(0, 1, 1);
        assertEquals((float) (0.1 * Math.log(4) + 1), t.cos()[0], 1e-6); // position 0: cos = 1 times mscale
    }

    @Test
    void rotationKeepsNormsAndDependsOnlyOnRelativePosition() throws Exception {
        RotaryEmbedding rope = RotaryEmbedding.fromConfig(config(null), 16);
        RotaryEmbedding.Table table = rope.table(0, 40, 40);
        float[] q = new float[16], k = new float[16];
        for (int i = 0; i < 16; i++) {
            q[i] = (float) Math.sin(i + 1);
            k[i] = (float) Math.cos(2 * i);
        }
        float[] q3 = q.clone(), k1 = k.clone(), q30 = q.clone(), k28 = k.clone();
        table.rotate(q3, 0, 1, 3);
        table.rotate(k1, 0, 1, 1);
        table.rotate(q30, 0, 1, 30);
        table.rotate(k28, 0, 1, 28);
        assertEquals(VectorMath.dot(q, 0, q, 0, 16), VectorMath.dot(q3, 0, q3, 0, 16), 1e-5);
        assertEquals(VectorMath.dot(q3, 0, k1, 0, 16), VectorMath.dot(q30, 0, k28, 0, 16), 1e-4);
    }

    @Test
    void unknownRopeTypeIsNamed() {
        CrucibleException e = assertThrows(CrucibleException.class,
                () -> RotaryEmbedding.fromConfig(config("{\"rope_type\": \"spiral\"}"), 16));
        assertTrue(e.getMessage().contains("'spiral'"), e.getMessage());
    }
}
