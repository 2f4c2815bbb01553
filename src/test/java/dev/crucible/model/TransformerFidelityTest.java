package dev.crucible.model;

import dev.crucible.io.SafetensorsFile;
import dev.crucible.nn.KVCache;
import dev.crucible.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every family's fixture (transformers' float32 forward from the same bf16 weights) reproduced to 1e-5. */
class TransformerFidelityTest {
    static final Path MODELS = Path.of("testdata/hf/models");
    static final double TOLERANCE = 1e-5;

    static int[][] ids(Tensor t) {
        int rows = (int) t.dim(0), cols = (int) t.dim(1);
        int[][] out = new int[rows][cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                out[r][c] = (int) t.getLong((long) r * cols + c);
            }
        }
        return out;
    }

    /** max |a - ref| / max |ref|, as the fixtures' README defines it. */
    static double relativeError(float[] actual, float[] reference) {
        assertEquals(reference.length, actual.length);
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < reference.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs((double) actual[i] - reference[i]));
            maxRef = Math.max(maxRef, Math.abs(reference[i]));
        }
        return maxDiff / maxRef;
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "llama3_rope_tied", "llama_sharded", "mistral", "qwen2", "qwen3", "gemma",
            "gemma2", "phi3", "mixtral"})
    void logitsAndHiddenStatesMatchTransformers(String model) {
        String refModel = model.equals("llama_sharded") ? "llama" : model;
        try (SafetensorsFile ref = SafetensorsFile.open(MODELS.resolve(refModel).resolve("reference.safetensors"));
             Transformer t = Transformer.load(MODELS.resolve(model))) {
            int[][] input = ids(ref.tensor("input_ids"));
            Map<Integer, float[]> hidden = new TreeMap<>();
            float[] logits = t.forward(input, t.newCache(input.length, input[0].length), Transformer.Logits.ALL,
                    hidden::put);
            double err = relativeError(logits, ref.tensor("logits").toFloatArray());
            assertTrue(err < TOLERANCE, model + " logits relative error " + err);
            assertEquals(t.spec().layers() + 1, hidden.size());
            for (var e : hidden.entrySet()) {
                double he = relativeError(e.getValue(), ref.tensor("hidden_states." + e.getKey()).toFloatArray());
                assertTrue(he < TOLERANCE, model + " hidden_states." + e.getKey() + " relative error " + he);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "llama3_rope_tied", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3",
            "mixtral"})
    void greedyDecodingThroughTheCacheReproducesGenerate(String model) {
        try (SafetensorsFile ref = SafetensorsFile.open(MODELS.resolve(model).resolve("reference.safetensors"));
             Transformer t = Transformer.load(MODELS.resolve(model))) {
            int[] prompt = ids(ref.tensor("greedy_prompt"))[0];
            int[] expected = ids(ref.tensor("greedy_ids"))[0];
            KVCache cache = t.newCache(1, 4);
            float[] logits = t.forward(new int[][] {prompt}, cache, Transformer.Logits.LAST, null);
            int[] produced = java.util.Arrays.copyOf(prompt, expected.length);
            for (int i = prompt.length; i < expected.length; i++) {
                produced[i] = argmax(logits);
                logits = t.forward(new int[][] {{produced[i]}}, cache, Transformer.Logits.LAST, null);
            }
            assertArrayEquals(expected, produced, model);
        }
    }

    static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }
}
