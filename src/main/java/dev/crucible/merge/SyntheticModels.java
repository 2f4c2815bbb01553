package dev.crucible.merge;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.CrucibleException;
import dev.crucible.io.ModelConfig;
import dev.crucible.io.ShardedWriter;
import dev.crucible.io.StagedDirectory;
import dev.crucible.io.TensorSpec;
import dev.crucible.arch.Architecture;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;

/**
 * Writes Llama-shaped bf16 checkpoints with random weights for examples and benchmarks. {@link #write}: merge
 * inputs, a base with every matrix N(0, 0.02) and norm weights 1 + N(0, 0.02), and fine-tunes = base +
 * N(0, deltaStd) on every element. {@link #writeTied}: a tied-embedding model as SmolLM2 for the runtime and
 * training benchmarks, matrices N(0, 1/fan_in) so activations keep their scale through the layers, norms 1.
 * Each tensor's values come from a generator seeded by (seed, tensor name), so a fine-tune regenerates its
 * base's tensor instead of reading it, and tensors are generated in parallel.
 */
public final class SyntheticModels {
    /** Shape of a generated model. */
    public record Shape(int hidden, int intermediate, int layers, int heads, int kvHeads, int vocab) {
        public static final Shape TINY = new Shape(64, 128, 4, 4, 2, 256);
        /** The 443M-parameter shape of mergekit's speed baseline (BASELINE.md). */
        public static final Shape BASELINE = new Shape(1024, 4096, 24, 16, 8, 32000);
        /** SmolLM2-135M, the runtime and training benchmarks' default. */
        public static final Shape SMOLLM_135M = new Shape(576, 1536, 30, 9, 3, 49152);
        /** GGUF export fixtures: rows of 256 (whole k-quant super-blocks), down projections of 320 (fallback types). */
        public static final Shape GGUF_KQUANT = new Shape(256, 320, 10, 4, 2, 512);
        /** The PyTorch anchor scripts' tiny shape. */
        public static final Shape ANCHOR_TINY = new Shape(256, 688, 4, 8, 4, 8192);

        /** The shape of a Llama config.json (head_dim must be hidden_size / num_attention_heads). */
        public static Shape of(ModelConfig config) {
            if (!List.of("llama", "mistral").contains(config.modelType())
                    || config.headDim() * config.numAttentionHeads() != config.hiddenSize()) {
                throw new CrucibleException(config.source() + ": random initialisation supports Llama and Mistral configs"
                        + " whose head_dim is hidden_size / num_attention_heads");
            }
            return new Shape(config.hiddenSize(), config.intermediateSize(), config.numHiddenLayers(),
                    config.numAttentionHeads(), config.numKeyValueHeads(), config.vocabSize());
        }

        List<TensorSpec> tensors() {
            return tensors(false);
        }

        private List<TensorSpec> tensors(boolean tied) {
            return tensors(tied, DType.BF16);
        }

        private List<TensorSpec> tensors(boolean tied, DType dtype) {
            List<TensorSpec> out = new ArrayList<>();
            int headDim = hidden / heads;
            out.add(new TensorSpec(Architecture.EMBED, dtype, new long[]{vocab, hidden}));
            for (int l = 0; l < layers; l++) {
                String p = Architecture.LAYER_PREFIX + l + ".";
                out.add(new TensorSpec(p + "self_attn.q_proj.weight", dtype, new long[]{hidden, hidden}));
                out.add(new TensorSpec(p + "self_attn.k_proj.weight", dtype, new long[]{(long) kvHeads * headDim, hidden}));
                out.add(new TensorSpec(p + "self_attn.v_proj.weight", dtype, new long[]{(long) kvHeads * headDim, hidden}));
                out.add(new TensorSpec(p + "self_attn.o_proj.weight", dtype, new long[]{hidden, hidden}));
                out.add(new TensorSpec(p + "mlp.gate_proj.weight", dtype, new long[]{intermediate, hidden}));
                out.add(new TensorSpec(p + "mlp.up_proj.weight", dtype, new long[]{intermediate, hidden}));
                out.add(new TensorSpec(p + "mlp.down_proj.weight", dtype, new long[]{hidden, intermediate}));
                out.add(new TensorSpec(p + "input_layernorm.weight", dtype, new long[]{hidden}));
                out.add(new TensorSpec(p + "post_attention_layernorm.weight", dtype, new long[]{hidden}));
            }
            out.add(new TensorSpec(Architecture.FINAL_NORM, dtype, new long[]{hidden}));
            if (!tied) {
                out.add(new TensorSpec(Architecture.LM_HEAD, dtype, new long[]{vocab, hidden}));
            }
            return out;
        }

        public long parameters() {
            return tensors().stream().mapToLong(t -> t.byteSize() / 2).sum();
        }
    }

    private SyntheticModels() {
    }

    /**
     * Writes a model to {@code dir}: the base of {@code baseSeed} plus, when {@code deltaStd > 0}, noise of
     * {@code seed}.
     */
    public static void write(Path dir, Shape shape, long baseSeed, long seed, double deltaStd, int threads) {
        write(dir, shape.tensors(false), config(shape, false), threads, t -> values(t, baseSeed, seed, deltaStd));
    }

    /**
     * Writes the weights a training run from scratch starts from, as transformers' {@code _init_weights} makes them for
     * Llama: every matrix N(0, initializer_range) (default 0.02), norm weights 1, in float32, with {@code config} as
     * config.json. The generator is seeded by ({@code seed}, tensor name).
     */
    public static void writeInitial(Path dir, ModelConfig config, long seed, int threads) {
        Shape shape = Shape.of(config);
        float std = (float) config.doubleOr("initializer_range", 0.02);
        String json = config.json().toPrettyString() + "\n";
        write(dir, shape.tensors(config.tieWordEmbeddings(), DType.F32), json, threads, t -> {
            float[] v = new float[(int) (t.byteSize() / 4)];
            SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L ^ t.name().hashCode());
            for (int i = 0; i < v.length; i++) {
                v[i] = t.shape().length == 1 ? 1f : std * gaussian(r);
            }
            return Tensor.fromFloats(DType.F32, v, t.shape());
        });
    }

    /** Writes a tied-embedding model (no lm_head) with matrices N(0, 1/fan_in) and norm weights 1. */
    public static void writeTied(Path dir, Shape shape, int threads) {
        write(dir, shape.tensors(true), config(shape, true), threads, SyntheticModels::fanInValues);
    }

    private static void write(Path dir, List<TensorSpec> specs, String configJson, int threads,
                              Function<TensorSpec, Tensor> values) {
        try (StagedDirectory staged = StagedDirectory.create(dir)) {
            Files.writeString(staged.path().resolve("config.json"), configJson);
            ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, threads));
            try (ShardedWriter w = new ShardedWriter(staged.path(), specs, Long.MAX_VALUE, Map.of("format", "pt"))) {
                List<Future<?>> jobs = new ArrayList<>();
                for (TensorSpec t : specs) {
                    jobs.add(pool.submit(() -> w.write(t.name(), values.apply(t))));
                }
                for (Future<?> f : jobs) {
                    f.get();
                }
                w.finish();
            } finally {
                pool.shutdown();
            }
            staged.publish();
        } catch (IOException e) {
            throw new CrucibleException(dir + ": cannot write model: " + e.getMessage(), e);
        } catch (CrucibleException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException("generating " + dir + " failed", e);
        }
    }

    private static Tensor values(TensorSpec t, long baseSeed, long seed, double deltaStd) {
        int n = (int) (t.byteSize() / 2);
        boolean norm = t.shape().length == 1;
        float[] v = new float[n];
        SplittableRandom base = new SplittableRandom(baseSeed * 0x9E3779B97F4A7C15L ^ t.name().hashCode());
        for (int i = 0; i < n; i++) {
            v[i] = (norm ? 1f : 0f) + 0.02f * gaussian(base);
        }
        if (deltaStd > 0) {
            SplittableRandom delta = new SplittableRandom(seed * 0xBF58476D1CE4E5B9L ^ t.name().hashCode());
            float s = (float) deltaStd;
            for (int i = 0; i < n; i++) {
                v[i] += s * gaussian(delta);
            }
        }
        return Tensor.fromFloats(DType.BF16, v, t.shape());
    }

    private static Tensor fanInValues(TensorSpec t) {
        float[] v = new float[(int) (t.byteSize() / 2)];
        if (t.shape().length == 1) {
            Arrays.fill(v, 1f);
        } else {
            SplittableRandom r = new SplittableRandom(0x9E3779B97F4A7C15L ^ t.name().hashCode());
            float std = (float) (1 / Math.sqrt(t.shape()[1]));
            for (int i = 0; i < v.length; i++) {
                v[i] = std * gaussian(r);
            }
        }
        return Tensor.fromFloats(DType.BF16, v, t.shape());
    }

    /** A fast approximately normal sample (Irwin-Hall of four uniforms, variance matched); shape is all a benchmark needs. */
    private static float gaussian(SplittableRandom r) {
        long bits = r.nextLong();
        float s = (bits & 0xFFFF) + ((bits >>> 16) & 0xFFFF) + ((bits >>> 32) & 0xFFFF) + (bits >>> 48);
        return (s / 65536f - 2f) * 1.7320508f;
    }

    /** Tied models take SmolLM2's rope and context settings. */
    private static String config(Shape s, boolean tied) {
        ObjectNode c = new ObjectMapper().createObjectNode();
        c.putArray("architectures").add("LlamaForCausalLM");
        c.put("model_type", "llama");
        c.put("hidden_size", s.hidden());
        c.put("intermediate_size", s.intermediate());
        c.put("num_hidden_layers", s.layers());
        c.put("num_attention_heads", s.heads());
        c.put("num_key_value_heads", s.kvHeads());
        c.put("vocab_size", s.vocab());
        c.put("max_position_embeddings", tied ? 8192 : 2048);
        c.put("rms_norm_eps", 1e-5);
        c.put("rope_theta", tied ? 100000.0 : 10000.0);
        c.put("hidden_act", "silu");
        c.put("bos_token_id", 1);
        c.put("eos_token_id", 2);
        c.put("tie_word_embeddings", tied);
        c.put("torch_dtype", "bfloat16");
        return c.toPrettyString() + "\n";
    }
}
