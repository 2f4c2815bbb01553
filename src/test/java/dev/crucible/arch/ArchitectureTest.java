package dev.crucible.arch;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** architectures.json read as the families transformers defines (the values the registry held as Java before). */
class ArchitectureTest {
    /** Each family's features in the order of {@link Architecture.Features}' components. */
    private static final Map<String, String> FEATURES = Map.of(
            "llama", "00000000000", "mistral", "00000000000", "qwen2", "10000000000", "qwen3", "01000000000",
            "gemma", "00000011100", "gemma2", "00000111111", "phi3", "00110000000", "mixtral", "00001000000");

    private static String bits(Architecture.Features f) {
        boolean[] b = {f.attentionBias(), f.qkNorm(), f.fusedQkv(), f.fusedGateUp(), f.moe(), f.sandwichNorms(),
            f.unitOffsetNorm(), f.embeddingScale(), f.geluTanh(), f.softCapping(), f.alternatingSlidingWindow()};
        StringBuilder s = new StringBuilder();
        for (boolean x : b) {
            s.append(x ? '1' : '0');
        }
        return s.toString();
    }

    @Test
    void everyFamilyHasItsClassFeaturesAndLayerWeights() {
        assertEquals(FEATURES.keySet(), Architecture.REGISTRY.keySet());
        for (var e : Architecture.REGISTRY.entrySet()) {
            Architecture a = e.getValue();
            assertEquals(e.getKey(), a.modelType());
            assertEquals(FEATURES.get(e.getKey()), bits(a.features()), e.getKey());
            assertTrue(a.className().endsWith("ForCausalLM"), a.className());
        }
        List<String> llama = Architecture.REGISTRY.get("llama").layerWeights();
        assertEquals(9, llama.size());
        assertEquals(llama, Architecture.REGISTRY.get("mistral").layerWeights());
        assertEquals(llama, Architecture.REGISTRY.get("qwen2").layerWeights().subList(0, 9));
        assertEquals(List.of("self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias"),
                Architecture.REGISTRY.get("qwen2").layerWeights().subList(9, 12));
        assertEquals("Gemma2ForCausalLM", Architecture.REGISTRY.get("gemma2").className());
    }

    @Test
    void mixtralHasItsPerExpertAndItsFusedLayout() {
        Architecture perExpert = Architecture.REGISTRY.get("mixtral");
        assertFalse(perExpert.fusedExperts());
        assertTrue(perExpert.layerWeights().contains("block_sparse_moe.experts.{e}.w1.weight"));
        Architecture fused = perExpert.forTensors(List.of("model.layers.0." + Architecture.FUSED_GATE_UP));
        assertTrue(fused.fusedExperts());
        assertEquals(List.of(Architecture.FUSED_ROUTER, Architecture.FUSED_GATE_UP, Architecture.FUSED_DOWN),
                fused.layerWeights().subList(6, 9));
        assertEquals(perExpert.features(), fused.features());
        assertEquals(perExpert, perExpert.forTensors(List.of("model.layers.0.block_sparse_moe.gate.weight")));
    }
}
