package dev.crucible.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.io.SafetensorsFile;
import dev.crucible.nn.KVCache;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static dev.crucible.model.TransformerFidelityTest.MODELS;
import static dev.crucible.model.TransformerFidelityTest.TOLERANCE;
import static dev.crucible.model.TransformerFidelityTest.argmax;
import static dev.crucible.model.TransformerFidelityTest.ids;
import static dev.crucible.model.TransformerFidelityTest.relativeError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * yarn and longrope against transformers (fixtures from tools/rope_fixtures.py): sequences that run past
 * {@code original_max_position_embeddings}, so longrope switches to its long factors, and the same
 * checkpoints with their config in the other key style (transformers 4 rope_scaling / 5 rope_parameters).
 */
class RopeScalingFidelityTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @ParameterizedTest
    @ValueSource(strings = {"phi3_longrope", "qwen2_yarn"})
    void logitsMatchTransformersPastTheOriginalLength(String model) {
        try (SafetensorsFile ref = SafetensorsFile.open(MODELS.resolve(model).resolve("reference.safetensors"));
             Transformer t = Transformer.load(MODELS.resolve(model))) {
            int[][] input = ids(ref.tensor("input_ids"));
            float[] logits = t.forward(input, t.newCache(2, 24), Transformer.Logits.ALL, null);
            double err = relativeError(logits, ref.tensor("logits").toFloatArray());
            assertTrue(err < TOLERANCE, model + " logits relative error " + err);

            int[][] prefix = {Arrays.copyOf(input[0], 12), Arrays.copyOf(input[1], 12)};
            float[] shortLogits = t.forward(prefix, t.newCache(2, 12), Transformer.Logits.ALL, null);
            double shortErr = relativeError(shortLogits, ref.tensor("logits_short").toFloatArray());
            assertTrue(shortErr < TOLERANCE, model + " 12-token logits relative error " + shortErr);
        }
    }

    /** The prompt fits the original length; the decode steps after position 16 do not. */
    @ParameterizedTest
    @ValueSource(strings = {"phi3_longrope", "qwen2_yarn"})
    void greedyDecodingThroughTheCacheMatchesTheReference(String model) {
        try (SafetensorsFile ref = SafetensorsFile.open(MODELS.resolve(model).resolve("reference.safetensors"));
             Transformer t = Transformer.load(MODELS.resolve(model))) {
            int[] prompt = ids(ref.tensor("greedy_prompt"))[0];
            int[] expected = ids(ref.tensor("greedy_ids"))[0];
            KVCache cache = t.newCache(1, 4);
            float[] logits = t.forward(new int[][] {prompt}, cache, Transformer.Logits.LAST, null);
            int[] produced = Arrays.copyOf(prompt, expected.length);
            for (int i = prompt.length; i < expected.length; i++) {
                produced[i] = argmax(logits);
                logits = t.forward(new int[][] {{produced[i]}}, cache, Transformer.Logits.LAST, null);
            }
            assertArrayEquals(expected, produced, model);
        }
    }

    /**
     * Decoding one token at a time through the cache past position 16: every step's logits equal those of
     * transformers' forward over the whole sequence. For longrope this needs the cache recomputed with the
     * long factors when the sequence first passes the original length; the short-factor keys would not do.
     */
    @ParameterizedTest
    @ValueSource(strings = {"phi3_longrope", "qwen2_yarn"})
    void cachedDecodeStepsMatchTheFullForward(String model) {
        try (SafetensorsFile ref = SafetensorsFile.open(MODELS.resolve(model).resolve("reference.safetensors"));
             Transformer t = Transformer.load(MODELS.resolve(model))) {
            int[][] input = ids(ref.tensor("input_ids"));
            float[] full = ref.tensor("logits").toFloatArray();
            int vocab = t.spec().vocab();
            KVCache cache = t.newCache(2, 4);
            t.forward(new int[][] {Arrays.copyOf(input[0], 12), Arrays.copyOf(input[1], 12)}, cache,
                    Transformer.Logits.NONE, null);
            for (int pos = 12; pos < 24; pos++) {
                float[] step = t.forward(new int[][] {{input[0][pos]}, {input[1][pos]}}, cache,
                        Transformer.Logits.LAST, null);
                if (pos < 16) {
                    continue; // still the short factors: no full-length reference for these lengths
                }
                for (int b = 0; b < 2; b++) {
                    int from = (b * 24 + pos) * vocab;
                    double err = relativeError(Arrays.copyOfRange(step, b * vocab, (b + 1) * vocab),
                            Arrays.copyOfRange(full, from, from + vocab));
                    assertTrue(err < TOLERANCE, model + " sequence " + b + " position " + pos + " relative error " + err);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"phi3_longrope", "qwen2_yarn"})
    void theOtherConfigKeyStyleGivesTheSameLogits(String model, @TempDir Path dir) throws IOException {
        Path source = MODELS.resolve(model);
        Files.copy(source.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        ObjectNode config = (ObjectNode) JSON.readTree(source.resolve("config.json").toFile());
        if (config.has("rope_parameters")) { // transformers 5 -> 4
            ObjectNode scaling = (ObjectNode) config.remove("rope_parameters");
            config.set("rope_theta", scaling.remove("rope_theta"));
            scaling.set("type", scaling.remove("rope_type")); // the oldest spelling of the key
            config.set("rope_scaling", scaling);
        } else { // transformers 4 -> 5
            ObjectNode parameters = (ObjectNode) config.remove("rope_scaling");
            parameters.set("rope_theta", config.remove("rope_theta"));
            config.set("rope_parameters", parameters);
        }
        JSON.writeValue(dir.resolve("config.json").toFile(), config);
        try (SafetensorsFile ref = SafetensorsFile.open(source.resolve("reference.safetensors"));
             Transformer original = Transformer.load(source);
             Transformer rewritten = Transformer.load(dir)) {
            int[][] input = ids(ref.tensor("input_ids"));
            assertArrayEquals(original.forward(input, original.newCache(2, 24), Transformer.Logits.ALL, null),
                    rewritten.forward(input, rewritten.newCache(2, 24), Transformer.Logits.ALL, null), 0f, model);
        }
    }
}
