package dev.crucible.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.CrucibleException;
import dev.crucible.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelConfigTest {
    static final Path MODELS = Path.of("testdata/hf/models");
    static final Path REAL = Path.of("testdata/real_configs");

    @Test
    void transformers4KeysOfLlama() {
        ModelConfig c = ModelConfig.read(MODELS.resolve("llama/config.json"));
        assertEquals("llama", c.modelType());
        assertEquals("LlamaForCausalLM", c.architecture());
        assertEquals(64, c.hiddenSize());
        assertEquals(176, c.intermediateSize());
        assertEquals(3, c.numHiddenLayers());
        assertEquals(4, c.numAttentionHeads());
        assertEquals(2, c.numKeyValueHeads());
        assertEquals(16, c.headDim());
        assertEquals(512, c.vocabSize());
        assertEquals(1e-5, c.rmsNormEps());
        assertEquals(10000.0, c.ropeTheta());
        assertEquals("default", c.ropeType());
        assertEquals(DType.BF16, c.dtype()); // from torch_dtype
        assertFalse(c.tieWordEmbeddings());
    }

    @Test
    void transformers5KeysOfGemma() {
        ModelConfig c = ModelConfig.read(MODELS.resolve("gemma/config.json"));
        assertEquals("gemma", c.modelType());
        assertEquals(32, c.headDim()); // explicit, not hidden / heads = 16
        assertEquals(1, c.numKeyValueHeads());
        assertEquals(10000.0, c.ropeTheta()); // from rope_parameters
        assertEquals(Map.of("rope_type", "default"), c.ropeScaling());
        assertEquals(DType.BF16, c.dtype()); // from dtype
        assertTrue(c.tieWordEmbeddings());
    }

    @Test
    void llama3RopeScalingInTransformers4Style() {
        ModelConfig c = ModelConfig.read(MODELS.resolve("llama3_rope_tied/config.json"));
        assertEquals(500000.0, c.ropeTheta());
        Map<String, Object> s = c.ropeScaling();
        assertEquals("llama3", s.get("rope_type"));
        assertEquals(8.0, ((Number) s.get("factor")).doubleValue());
        assertEquals(32, ((Number) s.get("original_max_position_embeddings")).intValue());
        assertTrue(c.tieWordEmbeddings());
    }

    @Test
    void bothKeyStylesOfTheSameModelReadTheSame() {
        ModelConfig v4 = ModelConfig.read(MODELS.resolve("llama/config.json"));
        ModelConfig v5 = ModelConfig.read(MODELS.resolve("llama_sharded/config.json"));
        assertTrue(v4.has("rope_theta") && !v4.has("rope_parameters"));
        assertTrue(v5.has("rope_parameters") && !v5.has("rope_theta"));
        assertEquals(v4.ropeTheta(), v5.ropeTheta());
        assertEquals(v4.ropeScaling(), v5.ropeScaling());
        assertEquals(v4.dtype(), v5.dtype());
        assertEquals(v4.tieWordEmbeddings(), v5.tieWordEmbeddings());
    }

    /** Values read off each file by eye (and with python's json module); "-" means the key is absent. */
    @ParameterizedTest
    @CsvSource({
            // file, model_type, hidden, layers, heads, kv heads, head_dim, vocab, rope_theta, rope_type, factor, dtype, tied
            "DeepSeek-V3.json, deepseek_v3, 7168, 61, 128, 128, 56, 129280, 10000, yarn, 40, BF16, false",
            "Llama-3.1-8B.json, llama, 4096, 32, 32, 8, 128, 128256, 500000, llama3, 8, BF16, false",
            "Llama-3.2-1B-Instruct.json, llama, 2048, 16, 32, 8, 64, 128256, 500000, llama3, 32, F16, true",
            "Llama-3.2-1B.json, llama, 2048, 16, 32, 8, 64, 128256, 500000, llama3, 32, F16, true",
            "Llama-3.2-3B.json, llama, 3072, 28, 24, 8, 128, 128256, 500000, llama3, 32, BF16, true",
            "Mistral-7B-Instruct-v0.3.json, mistral, 4096, 32, 32, 8, 128, 32768, 1000000, default, -, BF16, false",
            "Mixtral-8x7B-v0.1.json, mixtral, 4096, 32, 32, 8, 128, 32000, 1000000, default, -, BF16, false",
            "Phi-3-mini-4k-instruct.json, phi3, 3072, 32, 32, 32, 96, 32064, 10000, default, -, BF16, false",
            "Qwen2.5-0.5B-Instruct.json, qwen2, 896, 24, 14, 2, 64, 151936, 1000000, default, -, F32, true",
            "Qwen2.5-7B.json, qwen2, 3584, 28, 28, 4, 128, 152064, 1000000, default, -, BF16, false",
            "Qwen3-0.6B.json, qwen3, 1024, 28, 16, 8, 128, 151936, 1000000, default, -, BF16, true",
            "Qwen3-30B-A3B.json, qwen3_moe, 2048, 48, 32, 4, 128, 151936, 1000000, default, -, BF16, false",
            "Qwen3-4B-Instruct-2507.json, qwen3, 2560, 36, 32, 8, 128, 151936, 5000000, default, -, BF16, true",
            "Qwen3-8B.json, qwen3, 4096, 36, 32, 8, 128, 151936, 1000000, default, -, BF16, false",
            "SmolLM2-135M.json, llama, 576, 30, 9, 3, 64, 49152, 100000, default, -, BF16, true",
            // gemma-2 has no tie_word_embeddings key: Gemma2Config's default (true) applies
            "gemma-2-9b-it.json, gemma2, 3584, 42, 16, 8, 256, 256000, 10000, default, -, BF16, true",
            "gemma-3-4b-text-only.json, gemma3_text, 2560, 34, 8, 4, 256, 262208, 1000000, linear, 8, BF16, true",
            // gpt-oss has no torch_dtype (its weights are quantized)
            "gpt-oss-20b.json, gpt_oss, 2880, 24, 64, 8, 64, 201088, 150000, yarn, 32, -, false",
    })
    void realConfigsFromTheHub(String file, String modelType, int hidden, int layers, int heads, int kvHeads,
                               int headDim, int vocab, double theta, String ropeType, String factor, String dtype,
                               boolean tied) {
        ModelConfig c = ModelConfig.read(REAL.resolve(file));
        assertEquals(modelType, c.modelType());
        assertEquals(hidden, c.hiddenSize());
        assertEquals(layers, c.numHiddenLayers());
        assertEquals(heads, c.numAttentionHeads());
        assertEquals(kvHeads, c.numKeyValueHeads());
        assertEquals(headDim, c.headDim());
        assertEquals(vocab, c.vocabSize());
        assertEquals(theta, c.ropeTheta());
        assertEquals(ropeType, c.ropeType());
        Object f = c.ropeScaling().get("factor");
        if (factor.equals("-")) {
            assertNull(f);
        } else {
            assertEquals(Double.parseDouble(factor), ((Number) f).doubleValue());
        }
        assertEquals(dtype.equals("-") ? null : DType.valueOf(dtype), c.dtype());
        assertEquals(tied, c.tieWordEmbeddings());
    }

    @Test
    void everyRealConfigIsCoveredAbove() throws IOException {
        try (Stream<Path> s = Files.list(REAL)) {
            long configs = s.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".json") && !n.endsWith(".tokenizer_config.json")).count();
            assertEquals(18, configs);
        }
    }

    @Test
    void oldTypeKeyIsReadAsRopeTypeButNeverOverridesIt() {
        ObjectNode json = new ObjectMapper().createObjectNode();
        json.putObject("rope_scaling").put("type", "longrope").put("rope_type", "yarn").put("factor", 4);
        assertEquals("yarn", ModelConfig.of(json).ropeType());
        json.putObject("rope_scaling").put("type", "dynamic");
        assertEquals("dynamic", ModelConfig.of(json).ropeType());
    }

    @Test
    void perAttentionTypeRopeParametersUseTheFullAttentionEntry() {
        ObjectNode json = new ObjectMapper().createObjectNode();
        ObjectNode p = json.putObject("rope_parameters");
        p.putObject("full_attention").put("rope_theta", 1000000.0).put("rope_type", "linear").put("factor", 8.0);
        p.putObject("sliding_attention").put("rope_theta", 10000.0).put("rope_type", "default");
        ModelConfig c = ModelConfig.of(json);
        assertEquals(1000000.0, c.ropeTheta());
        assertEquals("linear", c.ropeType());
    }

    @Test
    void absentTieFlagFollowsTheFamilysDefault() {
        ObjectMapper m = new ObjectMapper();
        assertFalse(ModelConfig.of(m.createObjectNode().put("model_type", "llama")).tieWordEmbeddings());
        assertFalse(ModelConfig.of(m.createObjectNode().put("model_type", "qwen2")).tieWordEmbeddings());
        assertTrue(ModelConfig.of(m.createObjectNode().put("model_type", "gemma")).tieWordEmbeddings());
        assertTrue(ModelConfig.of(m.createObjectNode().put("model_type", "something_new")).tieWordEmbeddings());
    }

    @Test
    void errorsNameTheFileAndTheKey(@TempDir Path tmp) throws IOException {
        Path bad = tmp.resolve("config.json");
        Files.writeString(bad, "{\"model_type\": \"llama\", ");
        CrucibleException e = assertThrows(CrucibleException.class, () -> ModelConfig.read(bad));
        assertTrue(e.getMessage().startsWith(bad + ": not valid JSON"), e.getMessage());

        Files.writeString(bad, "[1, 2]");
        e = assertThrows(CrucibleException.class, () -> ModelConfig.read(bad));
        assertTrue(e.getMessage().contains("expected a JSON object"), e.getMessage());

        Files.writeString(bad, "{\"model_type\": \"llama\"}");
        e = assertThrows(CrucibleException.class, () -> ModelConfig.read(bad).hiddenSize());
        assertEquals(bad + ": missing integer key 'hidden_size'", e.getMessage());

        e = assertThrows(CrucibleException.class, () -> ModelConfig.read(tmp.resolve("none.json")));
        assertTrue(e.getMessage().contains("none.json"), e.getMessage());
    }

    @Test
    void jsonIsAMutableCopy() {
        ModelConfig c = ModelConfig.read(MODELS.resolve("llama/config.json"));
        ObjectNode copy = c.json();
        copy.put("num_hidden_layers", 6);
        assertEquals(3, c.numHiddenLayers());
        assertEquals(6, ModelConfig.of(copy).numHiddenLayers());
    }
}
