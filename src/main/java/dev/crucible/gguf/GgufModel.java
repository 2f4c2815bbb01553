package dev.crucible.gguf;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.CrucibleException;
import dev.crucible.io.ModelConfig;
import dev.crucible.io.TensorSource;
import dev.crucible.model.Transformer;
import dev.crucible.nn.TransformerSpec;
import dev.crucible.model.TransformerWeights;
import dev.crucible.tensor.BlockFormat;
import dev.crucible.tensor.BlockMatrix;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A GGUF file seen as a Hugging Face model, so the runtime runs it unchanged: a config.json rebuilt from the
 * metadata and the tensors under Hugging Face names, undoing what the converter did (llama's q/k permutation,
 * Gemma's norm + 1, stacked experts split back into per-expert views). Float tensors are mapped in place.
 * Quantised matrices whose format {@code tensor.Gemm} multiplies ({@link BlockFormat}: Q8_0, Q4_0, Q4_1, Q5_0,
 * Q5_1, Q4_K, Q5_K, Q6_K) are handed to the runtime as {@link #blocks}, mapped in place too (llama's permuted q and k rows as a
 * reordered copy of their blocks); everything else, and any tensor asked for by {@link #tensor}, is dequantised
 * to float32.
 */
public final class GgufModel implements TensorSource, AutoCloseable {
    private static final Pattern BLK = Pattern.compile("^blk\\.(\\d+)\\.(.+)$");
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final GgufFile file;
    private final String arch;
    private final ObjectNode config;
    /** HF name to how to make it. */
    private final Map<String, Source> sources = new LinkedHashMap<>();

    /** One HF tensor: a GGUF tensor, optionally one expert of a stacked one, and the inverse transform. */
    private record Source(GgufTensorInfo info, int expert, Transform transform) {
    }

    private enum Transform { NONE, UNPERMUTE_Q, UNPERMUTE_K, MINUS_ONE }

    private GgufModel(GgufFile file) {
        this.file = file;
        GgufMetadata kv = file.metadata();
        this.arch = kv.string("general.architecture");
        if (arch == null) {
            throw new CrucibleException(file.path() + ": no general.architecture");
        }
        this.config = buildConfig(kv);
        mapTensors();
    }

    public static GgufModel open(Path path) {
        GgufFile f = GgufFile.open(path);
        try {
            return new GgufModel(f);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    /** Loads a GGUF file as a runnable transformer (closing it closes the file). */
    public static Transformer transformer(Path path) {
        GgufModel m = open(path);
        try {
            ModelConfig config = ModelConfig.of(m.config.deepCopy());
            TransformerSpec spec = TransformerSpec.of(config, m.names());
            return new Transformer(spec, TransformerWeights.load(m, spec), m);
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /** The config.json equivalent of the metadata. */
    public ObjectNode config() {
        return config.deepCopy();
    }

    public GgufFile file() {
        return file;
    }

    private long u(GgufMetadata kv, String key) {
        GgufValue v = kv.get(arch + "." + key);
        if (v == null) {
            throw new CrucibleException(file.path() + ": missing metadata " + arch + "." + key);
        }
        return v.asLong();
    }

    private Double f(GgufMetadata kv, String key) {
        GgufValue v = kv.get(arch + "." + key);
        return v == null ? null : v.asDouble();
    }

    private ObjectNode buildConfig(GgufMetadata kv) {
        JsonNodeFactory j = JsonNodeFactory.instance;
        ObjectNode c = j.objectNode();
        boolean moe = kv.contains(arch + ".expert_count") && u(kv, "expert_count") > 0;
        String[] family = switch (arch) {
            case "llama" -> moe ? new String[] {"MixtralForCausalLM", "mixtral"} : new String[] {"LlamaForCausalLM", "llama"};
            case "qwen2" -> new String[] {"Qwen2ForCausalLM", "qwen2"};
            case "qwen3" -> new String[] {"Qwen3ForCausalLM", "qwen3"};
            case "gemma" -> new String[] {"GemmaForCausalLM", "gemma"};
            case "gemma2" -> new String[] {"Gemma2ForCausalLM", "gemma2"};
            case "phi3" -> new String[] {"Phi3ForCausalLM", "phi3"};
            default -> throw new CrucibleException(file.path() + ": GGUF architecture '" + arch + "' is not supported "
                    + "(supported: llama, qwen2, qwen3, gemma, gemma2, phi3)");
        };
        c.putArray("architectures").add(family[0]);
        c.put("model_type", family[1]);
        long hidden = u(kv, "embedding_length");
        long heads = u(kv, "attention.head_count");
        c.put("hidden_size", hidden);
        c.put("intermediate_size", u(kv, "feed_forward_length"));
        c.put("num_hidden_layers", u(kv, "block_count"));
        c.put("num_attention_heads", heads);
        c.put("num_key_value_heads", kv.contains(arch + ".attention.head_count_kv") ? u(kv, "attention.head_count_kv") : heads);
        long headDim = kv.contains(arch + ".attention.key_length") ? u(kv, "attention.key_length") : hidden / heads;
        c.put("head_dim", headDim);
        if (kv.contains(arch + ".context_length")) {
            c.put("max_position_embeddings", u(kv, "context_length"));
        }
        Double eps = f(kv, "attention.layer_norm_rms_epsilon");
        c.put("rms_norm_eps", eps == null ? 1e-5 : (double) (float) (double) eps);
        Double theta = f(kv, "rope.freq_base");
        GgufValue tokens = file.metadata().get("tokenizer.ggml.tokens");
        long vocab = kv.contains(arch + ".vocab_size") ? u(kv, "vocab_size")
                : tokens != null ? tokens.length() : file.tensor("token_embd.weight").dims()[1];
        c.put("vocab_size", vocab);
        c.put("tie_word_embeddings", !file.tensors().containsKey("output.weight"));
        c.put("hidden_act", arch.startsWith("gemma") ? "gelu_pytorch_tanh" : "silu");
        if (arch.startsWith("gemma")) {
            c.put("hidden_activation", "gelu_pytorch_tanh");
        }
        if (moe) {
            c.put("num_local_experts", u(kv, "expert_count"));
            c.put("num_experts_per_tok", u(kv, "expert_used_count"));
        }
        if (file.tensors().containsKey("blk.0.attn_q.bias")) {
            c.put("attention_bias", true);
        }
        ObjectNode rope = j.objectNode();
        rope.put("rope_theta", theta == null ? 10000.0 : (double) (float) (double) theta);
        rope.put("rope_type", "default");
        String scaling = kv.string(arch + ".rope.scaling.type");
        if ("linear".equals(scaling) || "yarn".equals(scaling)) {
            rope.put("rope_type", scaling);
            rope.put("factor", f(kv, "rope.scaling.factor"));
            if ("yarn".equals(scaling)) {
                rope.put("original_max_position_embeddings", u(kv, "rope.scaling.original_context_length"));
            }
        }
        if (file.tensors().containsKey("rope_freqs.weight")) {
            rope.put("rope_type", "freq_factors"); // llama3 rope: the converter's computed factors, applied as given
            rope.set("freq_factors", floats(file.tensor("rope_freqs.weight")));
        }
        if (arch.equals("phi3")) {
            long dims = u(kv, "rope.dimension_count");
            rope.put("partial_rotary_factor", (double) dims / headDim);
            c.put("original_max_position_embeddings", u(kv, "rope.scaling.original_context_length"));
            if (file.tensors().containsKey("rope_factors_long.weight")) {
                rope.put("rope_type", "longrope");
                rope.set("long_factor", floats(file.tensor("rope_factors_long.weight")));
                rope.set("short_factor", floats(file.tensor("rope_factors_short.weight")));
                rope.put("original_max_position_embeddings", u(kv, "rope.scaling.original_context_length"));
            }
            long window = kv.contains(arch + ".attention.sliding_window") ? u(kv, "attention.sliding_window") : 0;
            if (window > 0) {
                c.put("sliding_window", window);
            }
        }
        c.set("rope_parameters", rope);
        if (arch.equals("gemma2")) {
            c.put("attn_logit_softcapping", f(kv, "attn_logit_softcapping"));
            c.put("final_logit_softcapping", f(kv, "final_logit_softcapping"));
            c.put("sliding_window", u(kv, "attention.sliding_window"));
            c.put("query_pre_attn_scalar", headDim); // llama.cpp scales queries by head_dim^-1/2 for Gemma 2
            ArrayNode types = c.putArray("layer_types");
            for (int l = 0; l < u(kv, "block_count"); l++) {
                types.add(l % 2 == 0 ? "sliding_attention" : "full_attention");
            }
        }
        GgufValue bos = file.metadata().get("tokenizer.ggml.bos_token_id");
        GgufValue eos = file.metadata().get("tokenizer.ggml.eos_token_id");
        if (bos != null) {
            c.put("bos_token_id", bos.asLong());
        }
        if (eos != null) {
            c.put("eos_token_id", eos.asLong());
        }
        c.put("torch_dtype", "float32");
        return c;
    }

    private ArrayNode floats(GgufTensorInfo t) {
        ArrayNode a = JsonNodeFactory.instance.arrayNode();
        for (float v : dequantize(t)) {
            a.add(v);
        }
        return a;
    }

    /** GGUF name within a layer to the HF name; llama's expert tensors handled apart. */
    private static final Map<String, String> LAYER = new LinkedHashMap<>();

    static {
        LAYER.put("attn_norm", "input_layernorm");
        LAYER.put("attn_q", "self_attn.q_proj");
        LAYER.put("attn_k", "self_attn.k_proj");
        LAYER.put("attn_v", "self_attn.v_proj");
        LAYER.put("attn_output", "self_attn.o_proj");
        LAYER.put("attn_qkv", "self_attn.qkv_proj");
        LAYER.put("attn_q_norm", "self_attn.q_norm");
        LAYER.put("attn_k_norm", "self_attn.k_norm");
        LAYER.put("ffn_gate", "mlp.gate_proj");
        LAYER.put("ffn_up", "mlp.up_proj");
        LAYER.put("ffn_down", "mlp.down_proj");
        LAYER.put("ffn_gate_inp", "block_sparse_moe.gate");
    }

    private void mapTensors() {
        boolean gemma = arch.startsWith("gemma");
        for (GgufTensorInfo t : file.tensors().values()) {
            String name = t.name();
            if (name.startsWith("rope_")) {
                continue; // rope factors live in the config
            }
            String suffix = name.endsWith(".bias") ? ".bias" : ".weight";
            String base = name.substring(0, name.length() - suffix.length());
            Transform tr = gemma && base.endsWith("norm") ? Transform.MINUS_ONE : Transform.NONE;
            switch (base) {
                case "token_embd" -> put("model.embed_tokens" + suffix, t, -1, Transform.NONE);
                case "output" -> put("lm_head" + suffix, t, -1, Transform.NONE);
                case "output_norm" -> put("model.norm" + suffix, t, -1, tr);
                default -> {
                    Matcher m = BLK.matcher(base);
                    if (!m.matches()) {
                        throw new CrucibleException(file.path() + ": unexpected tensor '" + name + "'");
                    }
                    String layer = "model.layers." + m.group(1) + ".";
                    String within = m.group(2);
                    if (within.endsWith("_exps")) {
                        String w = switch (within) {
                            case "ffn_gate_exps" -> "w1";
                            case "ffn_down_exps" -> "w2";
                            case "ffn_up_exps" -> "w3";
                            default -> throw new CrucibleException(file.path() + ": unexpected tensor '" + name + "'");
                        };
                        for (int e = 0; e < t.dims()[2]; e++) {
                            put(layer + "block_sparse_moe.experts." + e + "." + w + suffix, t, e, Transform.NONE);
                        }
                        continue;
                    }
                    String hf = switch (within) {
                        case "ffn_norm" -> arch.equals("gemma2") ? "pre_feedforward_layernorm" : "post_attention_layernorm";
                        case "post_attention_norm" -> "post_attention_layernorm";
                        case "post_ffw_norm" -> "post_feedforward_layernorm";
                        case "ffn_up" -> arch.equals("phi3") ? "mlp.gate_up_proj" : "mlp.up_proj";
                        default -> LAYER.get(within);
                    };
                    if (hf == null) {
                        throw new CrucibleException(file.path() + ": unexpected tensor '" + name + "'");
                    }
                    Transform permute = !arch.equals("llama") ? Transform.NONE
                            : within.equals("attn_q") ? Transform.UNPERMUTE_Q : within.equals("attn_k") ? Transform.UNPERMUTE_K
                            : Transform.NONE;
                    put(layer + hf + suffix, t, -1, gemma && within.endsWith("norm") ? Transform.MINUS_ONE : permute);
                }
            }
        }
    }

    private void put(String hfName, GgufTensorInfo t, int expert, Transform transform) {
        sources.put(hfName, new Source(t, expert, transform));
    }

    @Override
    public Path directory() {
        return file.path();
    }

    @Override
    public Collection<String> names() {
        return new ArrayList<>(sources.keySet());
    }

    @Override
    public boolean contains(String name) {
        return sources.containsKey(name);
    }

    @Override
    public Tensor tensor(String name) {
        Source s = sources.get(name);
        if (s == null) {
            throw new CrucibleException(file.path() + ": no tensor for " + name);
        }
        GgufTensorInfo t = s.info();
        long[] shape = t.shape();
        if (s.expert() >= 0) {
            shape = new long[] {shape[1], shape[2]};
        }
        if (s.transform() == Transform.NONE && s.expert() < 0 && floatType(t.type()) != null) {
            return new Tensor(floatType(t.type()), shape, file.data(t)); // zero-copy
        }
        float[] v = s.expert() >= 0 ? dequantizeExpert(t, s.expert()) : dequantize(t);
        switch (s.transform()) {
            case MINUS_ONE -> {
                for (int i = 0; i < v.length; i++) {
                    v[i] -= 1;
                }
            }
            case UNPERMUTE_Q, UNPERMUTE_K -> v = unpermute(v, shape, permutedHeads(s.transform()));
            case NONE -> {
            }
        }
        return Tensor.ofFloats(v, shape);
    }

    /** The heads the converter permuted q (all heads) or k (the kv heads) over. */
    private int permutedHeads(Transform t) {
        long h = config.get("num_attention_heads").asLong();
        long kvh = config.get("num_key_value_heads").asLong();
        return (int) (t == Transform.UNPERMUTE_K && h != kvh ? kvh : h);
    }

    /**
     * A quantised matrix in its blocks, for the types {@code tensor.Gemm} has kernels for: a view of the mapped
     * file (one expert's rows of a stacked tensor), or for llama's q and k a copy with the rows put back in
     * Hugging Face order. Null for other types and for tensors whose values change (Gemma's norms).
     */
    @Override
    public BlockMatrix blocks(String name) {
        Source s = sources.get(name);
        if (s == null) {
            return null;
        }
        GgufTensorInfo t = s.info();
        BlockFormat format = BlockFormat.ofGgmlName(t.type().name());
        if (format == null || s.transform() == Transform.MINUS_ONE || t.dims().length != (s.expert() >= 0 ? 3 : 2)) {
            return null;
        }
        int cols = Math.toIntExact(t.dims()[0]);
        int rows = Math.toIntExact(t.dims()[1]);
        long rowBytes = format.rowBytes(cols);
        MemorySegment data = file.data(t);
        if (s.expert() >= 0) {
            data = data.asSlice((long) s.expert() * rows * rowBytes, rows * rowBytes);
        }
        if (s.transform() == Transform.UNPERMUTE_Q || s.transform() == Transform.UNPERMUTE_K) {
            int heads = permutedHeads(s.transform());
            MemorySegment copy = file.allocate(rows * rowBytes);
            for (int r = 0; r < rows; r++) {
                MemorySegment.copy(data, permutedRow(r, rows, heads) * rowBytes, copy, r * rowBytes, rowBytes);
            }
            data = copy;
        }
        return new BlockMatrix(format, rows, cols, data);
    }

    private static DType floatType(GgmlType t) {
        return switch (t) {
            case F32 -> DType.F32;
            case F16 -> DType.F16;
            case BF16 -> DType.BF16;
            default -> null;
        };
    }

    /** Inverse of the converter's permute: HF row (h, a, b) is GGUF row (h, b, a); a 1-D tensor permutes elements. */
    static float[] unpermute(float[] v, long[] shape, int heads) {
        int rows = (int) shape[0];
        int len = shape.length == 1 ? 1 : (int) (v.length / rows);
        float[] out = new float[v.length];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(v, permutedRow(r, rows, heads) * len, out, r * len, len);
        }
        return out;
    }

    /** The GGUF row that holds Hugging Face row {@code r} of a permuted q or k of {@code rows} rows. */
    private static int permutedRow(int r, int rows, int heads) {
        int half = rows / heads / 2;
        int h = r / (2 * half);
        int rem = r % (2 * half);
        int a = rem / half;
        int b = rem % half;
        return h * 2 * half + 2 * b + a;
    }

    float[] dequantize(GgufTensorInfo t) {
        return dequantize(t, 0, t.elements());
    }

    private float[] dequantizeExpert(GgufTensorInfo t, int expert) {
        long per = t.dims()[0] * t.dims()[1];
        return dequantize(t, expert * per, per);
    }

    /** {@code count} values from element {@code first} (whole rows) of a tensor as float32. */
    float[] dequantize(GgufTensorInfo t, long first, long count) {
        if (count > Integer.MAX_VALUE - 8) {
            throw new CrucibleException(file.path() + ": tensor '" + t.name() + "' is too large to dequantise at once");
        }
        MemorySegment data = file.data(t);
        float[] out = new float[(int) count];
        GgmlType type = t.type();
        long byteStart = type.bytes(first);
        switch (type) {
            case F32 -> MemorySegment.copy(data, F32, byteStart, out, 0, (int) count);
            case F16, BF16 -> {
                for (int i = 0; i < count; i++) {
                    short h = data.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), byteStart + 2L * i);
                    out[i] = type == GgmlType.F16 ? Float.float16ToFloat(h) : Float.intBitsToFloat(h << 16);
                }
            }
            default -> {
                BlockQuant q = BlockQuant.of(type);
                if (q == null) {
                    throw new CrucibleException(file.path() + ": tensor '" + t.name() + "' has type " + type
                            + ", which Crucible cannot read yet");
                }
                int chunk = type.blockSize * 1024;
                byte[] buf = new byte[(int) type.bytes(chunk)];
                for (long done = 0; done < count; done += chunk) {
                    int n = (int) Math.min(chunk, count - done);
                    int bytes = (int) type.bytes(n);
                    MemorySegment.copy(data, ValueLayout.JAVA_BYTE, byteStart + type.bytes(done), buf, 0, bytes);
                    q.dequantize(buf, 0, out, (int) done, n);
                }
            }
        }
        return out;
    }

    @Override
    public void close() {
        file.close();
    }
}
