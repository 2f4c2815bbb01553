package dev.crucible.io;

import dev.crucible.arch.Architecture;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every checkpoint of the Hugging Face fixtures opens and holds exactly what its family's registry entry says. */
class CheckpointFixturesTest {
    static final Path MODELS = Path.of("testdata/hf/models");

    @ParameterizedTest
    @ValueSource(strings = {"llama", "llama3_rope_tied", "llama_sharded", "mistral", "qwen2", "qwen3", "gemma",
            "gemma2", "phi3", "mixtral"})
    void checkpointHoldsTheRegistrysWeightsWithShapesFromTheConfig(String model) {
        ModelDirectory dir = ModelDirectory.open(MODELS.resolve(model));
        ModelConfig config = dir.config();
        Architecture arch = Architecture.of(config);
        try (Checkpoint ckpt = dir.openCheckpoint()) {
            assertEquals(new TreeSet<>(arch.weightNames(config)), new TreeSet<>(ckpt.names()), model);
            long params = 0;
            for (String name : ckpt.names()) {
                TensorInfo info = ckpt.info(name);
                assertEquals(DType.BF16, info.dtype(), name);
                assertArrayEquals(expectedShape(Architecture.withinLayer(name), config), info.shape(),
                        model + " " + name);
                params += info.numel();
            }
            assertEquals(2 * params, ckpt.totalBytes());
        }
    }

    /** The shape transformers gives each weight, derived from config.json alone. */
    static long[] expectedShape(String w, ModelConfig c) {
        long h = c.hiddenSize();
        long inter = c.intermediateSize();
        long hd = c.headDim();
        long q = c.numAttentionHeads() * hd;
        long kv = c.numKeyValueHeads() * hd;
        return switch (w) {
            case "model.embed_tokens.weight", "lm_head.weight" -> new long[] {c.vocabSize(), h};
            case "model.norm.weight", "input_layernorm.weight", "post_attention_layernorm.weight",
                 "pre_feedforward_layernorm.weight", "post_feedforward_layernorm.weight" -> new long[] {h};
            case "self_attn.q_proj.weight" -> new long[] {q, h};
            case "self_attn.k_proj.weight", "self_attn.v_proj.weight" -> new long[] {kv, h};
            case "self_attn.o_proj.weight" -> new long[] {h, q};
            case "self_attn.q_proj.bias" -> new long[] {q};
            case "self_attn.k_proj.bias", "self_attn.v_proj.bias" -> new long[] {kv};
            case "self_attn.q_norm.weight", "self_attn.k_norm.weight" -> new long[] {hd};
            case "self_attn.qkv_proj.weight" -> new long[] {q + 2 * kv, h};
            case "mlp.gate_proj.weight", "mlp.up_proj.weight" -> new long[] {inter, h};
            case "mlp.gate_up_proj.weight" -> new long[] {2 * inter, h};
            case "mlp.down_proj.weight" -> new long[] {h, inter};
            case "block_sparse_moe.gate.weight" -> new long[] {c.intOr("num_local_experts", -1), h};
            default -> {
                if (w.matches("block_sparse_moe\\.experts\\.\\d+\\.w[13]\\.weight")) {
                    yield new long[] {inter, h};
                }
                if (w.matches("block_sparse_moe\\.experts\\.\\d+\\.w2\\.weight")) {
                    yield new long[] {h, inter};
                }
                throw new AssertionError("no expected shape for " + w);
            }
        };
    }

    @Test
    void shardedLlamaHonoursItsIndexAndHoldsTheSameBitsAsSingleFileLlama() {
        try (Checkpoint single = Checkpoint.open(MODELS.resolve("llama"));
             Checkpoint sharded = Checkpoint.open(MODELS.resolve("llama_sharded"))) {
            assertEquals(5, sharded.shards().size());
            assertEquals(single.names().stream().sorted().toList(), sharded.names().stream().sorted().toList());
            for (String name : single.names()) {
                Tensor a = single.tensor(name);
                Tensor b = sharded.tensor(name);
                assertEquals(DType.BF16, a.dtype());
                assertArrayEquals(a.shape(), b.shape(), name);
                assertArrayEquals(a.data().toArray(ValueLayout.JAVA_BYTE), b.data().toArray(ValueLayout.JAVA_BYTE), name);
            }
            // total_size in the index, and where the index puts two tensors
            assertEquals(408448, sharded.totalBytes());
            assertEquals("model-00001-of-00005.safetensors",
                    sharded.shards().getFirst().path().getFileName().toString());
            assertTrue(shardHolding(sharded, "model.embed_tokens.weight").endsWith("model-00001-of-00005.safetensors"));
            assertTrue(shardHolding(sharded, "lm_head.weight").endsWith("model-00005-of-00005.safetensors"));
        }
    }

    private static String shardHolding(Checkpoint c, String tensor) {
        for (SafetensorsFile f : c.shards()) {
            if (f.contains(tensor)) {
                return f.path().toString();
            }
        }
        return "";
    }

    @Test
    void tensorStatisticsMatchAnIndependentReadOfTheRawBytes() {
        // Computed from the file with plain python (struct + json, no safetensors library):
        // python3 -c "import json,struct,math;f=open('testdata/hf/models/llama/model.safetensors','rb').read();
        //   n=struct.unpack('<Q',f[:8])[0];e=json.loads(f[8:8+n])['model.layers.0.self_attn.q_proj.weight'];
        //   b,en=e['data_offsets'];r=f[8+n+b:8+n+en];
        //   v=[struct.unpack('<f',struct.pack('<I',x<<16))[0] for x in struct.unpack('<%dH'%(len(r)//2),r)];
        //   print(len(v),sum(v),sum(v)/len(v),math.sqrt(sum(x*x for x in v)),max(v),min(v),v[:3])"
        // -> 4096 8.519086599349976 0.0020798551267944276 8.090046983123328 0.43359375 -0.43359375
        //    [-0.039306640625, -0.0208740234375, -0.12060546875]
        try (Checkpoint ckpt = Checkpoint.open(MODELS.resolve("llama_sharded"))) {
            float[] v = ckpt.tensor("model.layers.0.self_attn.q_proj.weight").toFloatArray();
            assertEquals(4096, v.length);
            double sum = 0;
            double sq = 0;
            float max = Float.NEGATIVE_INFINITY;
            float min = Float.POSITIVE_INFINITY;
            for (float x : v) {
                sum += x;
                sq += (double) x * x;
                max = Math.max(max, x);
                min = Math.min(min, x);
            }
            assertEquals(8.519086599349976, sum, 1e-12);
            assertEquals(0.0020798551267944276, sum / v.length, 1e-15);
            assertEquals(8.090046983123328, Math.sqrt(sq), 1e-12);
            assertEquals(0.43359375f, max);
            assertEquals(-0.43359375f, min);
            assertArrayEquals(new float[] {-0.039306640625f, -0.0208740234375f, -0.12060546875f},
                    java.util.Arrays.copyOf(v, 3));
        }
    }

    @Test
    void tiedFamiliesHaveNoLmHeadAndUntiedOnesDo() {
        for (String model : List.of("llama3_rope_tied", "qwen2", "gemma", "gemma2", "qwen3")) {
            try (Checkpoint c = Checkpoint.open(MODELS.resolve(model))) {
                assertFalse(c.contains(Architecture.LM_HEAD), model);
            }
        }
        for (String model : List.of("llama", "mistral", "phi3", "mixtral")) {
            try (Checkpoint c = Checkpoint.open(MODELS.resolve(model))) {
                assertTrue(c.contains(Architecture.LM_HEAD), model);
            }
        }
    }

    @Test
    void referenceFilesOpenWithTheirDtypes() {
        try (SafetensorsFile ref = SafetensorsFile.open(MODELS.resolve("llama/reference.safetensors"))) {
            assertEquals(DType.I64, ref.info("input_ids").dtype());
            assertArrayEquals(new long[] {2, 12}, ref.info("input_ids").shape());
            assertEquals(DType.F32, ref.info("logits").dtype());
            assertArrayEquals(new long[] {2, 12, 512}, ref.info("logits").shape());
            Set<String> names = ref.tensors().keySet();
            assertTrue(names.contains("hidden_states.3"), names.toString());
        }
    }
}
