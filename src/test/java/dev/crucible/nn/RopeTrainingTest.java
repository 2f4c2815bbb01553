package dev.crucible.nn;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.autograd.Tape;
import dev.crucible.autograd.Var;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.ModelConfig;
import dev.crucible.model.Transformer;
import dev.crucible.model.TransformerWeights;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Training's rope equals the runtime's for every rope type and for a partial rotary part, and its backward holds for
 * the scaled and partial ones too.
 */
class RopeTrainingTest {
    static final Path LLAMA = Path.of("testdata/hf/models/llama");
    /** longrope's per-frequency factors for head dim 16: 8 each, the long ones stretching low frequencies. */
    static final String SHORT = "[1.0, 1.0, 1.1, 1.2, 1.5, 2.0, 2.5, 3.0]";
    static final String LONG = "[1.0, 1.3, 1.8, 2.7, 4.0, 6.5, 9.0, 12.0]";
    static final Map<String, String> ROPES = Map.of(
            "default", "null",
            "linear", "{\"rope_type\": \"linear\", \"factor\": 2.0}",
            "llama3", "{\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0,"
                    + " \"original_max_position_embeddings\": 16}",
            "yarn", "{\"rope_type\": \"yarn\", \"factor\": 4.0, \"original_max_position_embeddings\": 16}",
            "yarn_mscale", "{\"rope_type\": \"yarn\", \"factor\": 8.0, \"original_max_position_embeddings\": 32,"
                    + " \"mscale\": 0.8, \"mscale_all_dim\": 0.5, \"beta_fast\": 16, \"beta_slow\": 2}",
            // original length 8: a 12-token batch is past it (long factors), a 6-token one is not (short factors)
            "longrope", "{\"rope_type\": \"longrope\", \"factor\": 4.0, \"original_max_position_embeddings\": 8,"
                    + " \"short_factor\": " + SHORT + ", \"long_factor\": " + LONG + "}",
            "partial", "{\"rope_type\": \"default\", \"partial_rotary_factor\": 0.5}",
            // as Phi-4-mini: longrope over the first 3/4 of each head (12 of 16 dimensions, 6 factors)
            "longrope_partial", "{\"rope_type\": \"longrope\", \"factor\": 4.0, \"original_max_position_embeddings\": 8,"
                    + " \"partial_rotary_factor\": 0.75, \"short_factor\": [1.0, 1.0, 1.2, 1.5, 2.0, 3.0],"
                    + " \"long_factor\": [1.0, 1.5, 2.7, 4.0, 6.5, 12.0]}");

    static ModelConfig llamaWithRope(String rope) throws IOException {
        ObjectNode raw = (ObjectNode) new ObjectMapper().readTree(Files.readString(LLAMA.resolve("config.json")));
        raw.set("rope_scaling", new ObjectMapper().readTree(rope));
        return ModelConfig.of(raw);
    }

    static int[] ids(int batch, int seq) {
        int[] ids = new int[batch * seq];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = (i * 37 + 11) % 512;
        }
        return ids;
    }

    static float[] trainingLogits(ModelConfig config, Checkpoint ckpt, int batch, int seq) {
        DecoderTraining model = new DecoderTraining(config, DecoderTraining.loadWeights(ckpt, false, null), Map.of());
        return model.forward(new Tape(), ids(batch, seq), batch, seq, null, null).logits().value();
    }

    static float[] runtimeLogits(ModelConfig config, Checkpoint ckpt, int batch, int seq) {
        TransformerSpec spec = TransformerSpec.of(config);
        Transformer runtime = new Transformer(spec, TransformerWeights.load(ckpt, spec), () -> { });
        int[] flat = ids(batch, seq);
        int[][] tokens = new int[batch][seq];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(flat, b * seq, tokens[b], 0, seq);
        }
        return runtime.forward(tokens, runtime.newCache(batch, seq), Transformer.Logits.ALL, null);
    }

    @ParameterizedTest
    @ValueSource(strings = {"default", "linear", "llama3", "yarn", "yarn_mscale", "longrope", "partial", "longrope_partial"})
    void trainingLogitsEqualTheRuntimeForEveryRopeType(String type) throws IOException {
        ModelConfig config = llamaWithRope(ROPES.get(type));
        ModelConfig plain = llamaWithRope("null");
        try (Checkpoint ckpt = Checkpoint.open(LLAMA)) {
            for (int seq : new int[]{12, 6}) {
                float[] training = trainingLogits(config, ckpt, 2, seq);
                float[] runtime = runtimeLogits(config, ckpt, 2, seq);
                double err = DecoderTrainingTest.relativeError(training, runtime);
                System.out.println(type + " seq " + seq + ": training vs runtime logits relative error " + err);
                assertTrue(err <= 1e-5, type + " seq " + seq + ": training vs runtime logits relative error " + err);
                if (!type.equals("default") && !(type.equals("llama3") && seq < 12)) {
                    // the scaling really acts: the logits move away from plain rope's
                    double moved = DecoderTrainingTest.relativeError(trainingLogits(plain, ckpt, 2, seq), training);
                    assertTrue(moved > 1e-4, type + " seq " + seq + " changes the logits only by " + moved);
                }
            }
        }
    }

    @Test
    void longropeSwitchesToItsLongFactorsPastTheOriginalLength() throws IOException {
        ModelConfig config = llamaWithRope(ROPES.get("longrope"));
        int[] shortPositions = {0, 1, 2, 3, 4, 5, 6, 7};
        int[] longPositions = {0, 1, 2, 3, 4, 5, 6, 7, 8};
        RotaryEmbedding rope = RotaryEmbedding.fromConfig(config, 16);
        float[] shortCos = RopeTables.of(rope, 9, 16, shortPositions)[0];
        float[] longCos = RopeTables.of(rope, 9, 16, longPositions)[0];
        // position 3, frequency 7: the short table uses factor 3, the long one factor 12
        double theta = Math.pow(10000, -14.0 / 16);
        double scaling = Math.sqrt(1 + Math.log(4) / Math.log(8));
        assertTrue(Math.abs(shortCos[3 * 16 + 7] - Math.cos(3 * theta / 3.0) * scaling) < 1e-5);
        assertTrue(Math.abs(longCos[3 * 16 + 7] - Math.cos(3 * theta / 12.0) * scaling) < 1e-5);
    }

    @ParameterizedTest
    @ValueSource(strings = {"yarn", "yarn_mscale", "longrope", "llama3", "partial", "longrope_partial"})
    void scaledRopeBackwardAgreesWithFiniteDifferences(String type) throws IOException {
        ModelConfig config = llamaWithRope(ROPES.get(type));
        int seq = 12;
        int d = 16;
        RotaryEmbedding rope = RotaryEmbedding.fromConfig(config, d);
        int rotaryDim = rope.rotaryDim();
        float[][] tables = RopeTables.of(rope, seq, d);
        int[] positions = new int[2 * seq];
        for (int t = 0; t < positions.length; t++) {
            positions[t] = t % seq;
        }
        Var x = Var.leaf(OpsGradientTest.random(2 * seq * 2 * d, 10, 1), 2 * seq, 2 * d);
        OpsGradientTest.check("rope " + type, List.of(x), List.of(x),
                t -> AttentionOps.rope(t, x, positions, d, rotaryDim, tables), 1e-3);
        if (rotaryDim < d) {
            // the dimensions past the rotary part pass through untouched
            Var y = AttentionOps.rope(new Tape(), x, positions, d, rotaryDim, tables);
            for (int i = 0; i < x.size(); i++) {
                if (i % d >= rotaryDim) {
                    assertEquals(x.value()[i], y.value()[i], 0f);
                }
            }
        }
    }
}
