package dev.crucible.nn;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.io.ModelConfig;
import dev.crucible.arch.Architecture;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The config corners of {@link LayerAttention}, each as transformers 5.18 resolves it (checked with Qwen2Config /
 * Qwen3Config: {@code sliding_window} is None unless {@code use_sliding_window}, whose default is false, and
 * {@code max_window_layers} defaults to 28). The end-to-end numbers are in model.SlidingWindowFidelityTest.
 */
class LayerAttentionTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static LayerAttention resolve(String json) {
        try {
            ModelConfig config = ModelConfig.of((ObjectNode) JSON.readTree(json));
            return LayerAttention.of(config, Architecture.of(config).features());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static String config(String type, int layers, String extra) {
        return "{\"model_type\":\"" + type + "\",\"hidden_size\":64,\"num_attention_heads\":4,\"num_hidden_layers\":"
                + layers + ",\"intermediate_size\":128,\"vocab_size\":256" + extra + "}";
    }

    @Test
    void qwenSlidesOnlyWhenAskedAndOnlyFromMaxWindowLayers() {
        String sliding = ",\"layer_types\":[\"sliding_attention\",\"sliding_attention\",\"sliding_attention\"]";
        assertArrayEquals(new int[3], resolve(config("qwen2", 3, ",\"sliding_window\":4,\"use_sliding_window\":false"
                + sliding)).windows(), "use_sliding_window false wins over layer_types");
        assertArrayEquals(new int[3], resolve(config("qwen3", 3, ",\"sliding_window\":4")).windows(),
                "use_sliding_window is false when absent");
        int[] windows = resolve(config("qwen2", 30, ",\"sliding_window\":4,\"use_sliding_window\":true")).windows();
        assertArrayEquals(new int[] {0, 4, 4}, java.util.Arrays.copyOfRange(windows, 27, 30),
                "max_window_layers defaults to 28");
        assertArrayEquals(new int[] {0, 4, 4}, resolve(config("qwen2", 3,
                ",\"sliding_window\":4,\"use_sliding_window\":true,\"max_window_layers\":1")).windows());
    }

    @Test
    void otherFamiliesSlideEveryLayerOrAlternate() {
        assertArrayEquals(new int[] {8, 8, 8}, resolve(config("mistral", 3, ",\"sliding_window\":8")).windows());
        assertArrayEquals(new int[] {8, 0, 8}, resolve(config("gemma2", 3, ",\"sliding_window\":8")).windows());
        assertArrayEquals(new int[3], resolve(config("mistral", 3, ",\"sliding_window\":null")).windows());
    }

    @Test
    void onlyTheSoftCappingFamilyReadsQueryScalarAndCaps() {
        String extra = ",\"query_pre_attn_scalar\":64,\"attn_logit_softcapping\":50.0,\"final_logit_softcapping\":30.0";
        LayerAttention llama = resolve(config("llama", 2, extra));
        assertEquals(1 / Math.sqrt(16), llama.scale(), 1e-7);
        assertEquals(0f, llama.softCap());
        assertEquals(0f, llama.finalSoftCap());
        LayerAttention gemma2 = resolve(config("gemma2", 2, extra));
        assertEquals(1 / Math.sqrt(64), gemma2.scale(), 1e-7);
        assertEquals(50f, gemma2.softCap());
        assertEquals(30f, gemma2.finalSoftCap());
        LayerAttention defaults = resolve(config("gemma2", 2, ",\"final_logit_softcapping\":null"));
        assertEquals(1 / Math.sqrt(256), defaults.scale(), 1e-7, "Gemma2Config's query_pre_attn_scalar");
        assertEquals(50f, defaults.softCap(), "Gemma2Config's attn_logit_softcapping");
        assertEquals(0f, defaults.finalSoftCap(), "null: no final cap");
    }
}
