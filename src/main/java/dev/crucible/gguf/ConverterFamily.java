package dev.crucible.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crucible.CrucibleException;
import dev.crucible.io.ModelDirectory;
import dev.crucible.tensor.DType;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One model family of llama.cpp's converter (a {@code conversion/*.py} model class): its GGUF architecture, the
 * hyper-parameter keys it writes and in which order, its vocabulary, its tensor names and the changes it makes
 * to tensors on the way (llama's rotary permutation of q and k, Gemma's norm + 1, Mixtral's stacked experts,
 * llama3's computed {@code rope_freqs}). One subclass per converter class, as small as its differences.
 */
abstract class ConverterFamily {
    /** A tensor the converter writes: GGUF name, PyTorch-order shape, rows, and the checkpoint's dtype. */
    record Planned(String name, long[] shape, Rows rows, DType sourceDtype) {
    }

    private static final Pattern LAYER = Pattern.compile("^model\\.layers\\.(\\d+)\\.(.+)$");

    final String arch;

    ConverterFamily(String arch) {
        this.arch = arch;
    }

    static ConverterFamily forModel(HfHparams hp, Path dir) {
        JsonNode archs = hp.h.get("architectures");
        String hfArch = archs != null && archs.isArray() && !archs.isEmpty() ? archs.get(0).asText() : null;
        if (hfArch == null) {
            throw new CrucibleException(hp.configFile + ": no 'architectures' entry (needed to pick the GGUF architecture)");
        }
        return switch (hfArch) {
            case "LlamaForCausalLM", "MistralForCausalLM", "MixtralForCausalLM" -> new Llama();
            case "Qwen2ForCausalLM" -> new Qwen("qwen2");
            case "Qwen3ForCausalLM" -> {
                if (Qwen.isReranker(hp, dir)) {
                    throw new CrucibleException(dir + ": Qwen3 rerankers are not supported by crucible export gguf");
                }
                yield new Qwen("qwen3");
            }
            case "GemmaForCausalLM" -> new Gemma("gemma");
            case "Gemma2ForCausalLM" -> new Gemma("gemma2");
            case "Phi3ForCausalLM" -> new Phi3();
            default -> throw new CrucibleException(dir + ": architecture " + hfArch + " is not supported by crucible "
                    + "export gguf (supported: Llama, Mistral, Mixtral, Qwen2, Qwen3, Gemma, Gemma2, Phi3)");
        };
    }

    /** filter_tensors: false for checkpoint tensors the converter drops. */
    boolean keep(String hfName) {
        return !hfName.endsWith(".attention.masked_bias") && !hfName.endsWith(".attention.bias")
                && !hfName.endsWith(".rotary_emb.inv_freq");
    }

    abstract void parameters(HfHparams hp, GgufMetadata kv, int blocks, OutType type);

    abstract void vocab(Path dir, HfHparams hp, GgufMetadata kv, String pre);

    /** generate_extra_tensors (written first); may add metadata, as Phi-3's does. */
    List<Planned> extraTensors(HfHparams hp, GgufMetadata kv) {
        return List.of();
    }

    /** modify_tensors: the GGUF tensors one checkpoint tensor becomes (none while experts are collected). */
    List<Planned> modify(HfHparams hp, String name, Planned t) {
        return List.of(new Planned(mapName(name), t.shape(), t.rows(), t.sourceDtype()));
    }

    /** Tensors still held back when the checkpoint ends (an error: experts missing). */
    List<String> leftovers() {
        return List.of();
    }

    // ------------------------------------------------------------------------------------ tensor names

    /** The name map, HF module path (no .weight/.bias) to GGUF name, for names outside the layers. */
    Map<String, String> globalNames() {
        return Map.of("model.embed_tokens", "token_embd", "lm_head", "output", "model.norm", "output_norm");
    }

    /** Within a layer: HF module path after model.layers.N. to the GGUF name after blk.N. */
    abstract Map<String, String> layerNames();

    static Map<String, String> commonLayerNames() {
        Map<String, String> m = new HashMap<>();
        m.put("input_layernorm", "attn_norm");
        m.put("self_attn.q_proj", "attn_q");
        m.put("self_attn.k_proj", "attn_k");
        m.put("self_attn.v_proj", "attn_v");
        m.put("self_attn.o_proj", "attn_output");
        m.put("mlp.gate_proj", "ffn_gate");
        m.put("mlp.up_proj", "ffn_up");
        m.put("mlp.down_proj", "ffn_down");
        m.put("post_attention_layernorm", "ffn_norm");
        return m;
    }

    String mapName(String name) {
        for (String suffix : new String[] {".weight", ".bias"}) {
            if (!name.endsWith(suffix)) {
                continue;
            }
            String base = name.substring(0, name.length() - suffix.length());
            String global = globalNames().get(base);
            if (global != null) {
                return global + suffix;
            }
            Matcher m = LAYER.matcher(base);
            if (m.matches()) {
                String within = layerNames().get(m.group(2));
                if (within != null) {
                    return "blk." + m.group(1) + "." + within + suffix;
                }
            }
        }
        throw new CrucibleException("can not map tensor '" + name + "' to a GGUF name for architecture " + arch
                + " (llama.cpp's converter refuses it too)");
    }

    // ------------------------------------------------------------------------------------ parameters

    String key(String suffix) {
        return arch + "." + suffix;
    }

    static long asInt(JsonNode v) {
        return v.asLong();
    }

    /** TextModel.set_gguf_parameters. */
    void textParameters(HfHparams hp, GgufMetadata kv, int blocks, OutType type) {
        kv.put(key("block_count"), GgufValue.uint32(blocks));
        JsonNode ctx = hp.find(List.of("max_position_embeddings", "n_ctx", "n_positions", "max_length",
                "max_sequence_length", "model_max_length"));
        if (ctx != null && !ctx.isNull()) {
            kv.put(key("context_length"), GgufValue.uint32(asInt(ctx)));
        }
        JsonNode embd = hp.find(List.of("hidden_size", "n_embd", "dim"));
        if (embd != null && !embd.isNull()) {
            kv.put(key("embedding_length"), GgufValue.uint32(asInt(embd)));
        }
        JsonNode ff = hp.find(List.of("prefix_dense_intermediate_size", "dense_intermediate_size", "intermediate_size",
                "n_inner", "hidden_dim"));
        if (ff != null && !ff.isNull()) {
            kv.put(key("feed_forward_length"), GgufValue.uint32(asInt(ff)));
        }
        JsonNode heads = hp.find(List.of("num_attention_heads", "n_head", "n_heads"));
        if (heads != null && !heads.isNull()) {
            kv.put(key("attention.head_count"), GgufValue.uint32(asInt(heads)));
        }
        JsonNode kvHeads = hp.find(List.of("num_key_value_heads", "n_kv_heads"));
        if (kvHeads != null && !kvHeads.isNull()) {
            kv.put(key("attention.head_count_kv"), GgufValue.uint32(asInt(kvHeads)));
        }
        JsonNode causal = hp.get("is_causal");
        if (causal != null && causal.isBoolean() && !causal.asBoolean()) {
            kv.put(key("attention.causal"), GgufValue.bool(false));
        }
        JsonNode rope = hp.ropeParams();
        JsonNode ropeType = rope.get("rope_type");
        if (ropeType != null && !ropeType.isNull()) {
            String rt = ropeType.asText();
            JsonNode factor = rope.get("factor");
            boolean hasFactor = factor != null && !factor.isNull();
            if (rt.equals("linear") && hasFactor) {
                kv.put(key("rope.scaling.type"), GgufValue.string("linear"));
                kv.put(key("rope.scaling.factor"), GgufValue.float32((float) factor.asDouble()));
            } else if (rt.equals("yarn") && hasFactor) {
                kv.put(key("rope.scaling.type"), GgufValue.string("yarn"));
                kv.put(key("rope.scaling.factor"), GgufValue.float32((float) factor.asDouble()));
                JsonNode orig = rope.get("original_max_position_embeddings");
                if (orig == null || orig.isNull()) {
                    throw new CrucibleException(hp.configFile + ": yarn rope scaling without original_max_position_embeddings");
                }
                kv.put(key("rope.scaling.original_context_length"), GgufValue.uint32(orig.asLong()));
                putFloatIfSet(kv, key("rope.scaling.yarn_ext_factor"), rope.get("extrapolation_factor"));
                putFloatIfSet(kv, key("rope.scaling.yarn_attn_factor"),
                        rope.has("attention_factor") ? rope.get("attention_factor") : rope.get("attn_factor"));
                putFloatIfSet(kv, key("rope.scaling.yarn_beta_fast"), rope.get("beta_fast"));
                putFloatIfSet(kv, key("rope.scaling.yarn_beta_slow"), rope.get("beta_slow"));
            } else if (rt.equals("su") || rt.equals("longrope")) {
                kv.put(key("rope.scaling.type"), GgufValue.string("longrope"));
            }
            // "llama3" adds rope_freqs instead; "default", "dynamic" and unknown types write nothing
        }
        JsonNode theta = rope.get("rope_theta");
        if (theta != null && !theta.isNull()) {
            kv.put(key("rope.freq_base"), GgufValue.float32((float) theta.asDouble()));
        }
        JsonNode sliding = hp.rope.path("sliding_attention").get("rope_theta");
        if (sliding != null && !sliding.isNull()) {
            kv.put(key("rope.freq_base_swa"), GgufValue.float32((float) sliding.asDouble()));
        }
        putFloatIfSet(kv, key("attention.layer_norm_rms_epsilon"), hp.find(List.of("rms_norm_eps", "norm_eps")));
        putFloatIfSet(kv, key("attention.layer_norm_epsilon"), hp.find(List.of("layer_norm_eps", "layer_norm_epsilon",
                "norm_epsilon")));
        JsonNode experts = hp.find(List.of("num_local_experts", "num_experts", "n_routed_experts"));
        if (experts != null && !experts.isNull()) {
            kv.put(key("expert_count"), GgufValue.uint32(asInt(experts)));
        }
        JsonNode used = hp.find(List.of("num_experts_per_tok", "num_experts_per_token", "top_k_experts"));
        if (used != null && !used.isNull()) {
            kv.put(key("expert_used_count"), GgufValue.uint32(asInt(used)));
        }
        JsonNode headDim = hp.get("head_dim");
        if (headDim != null) {
            kv.put(key("attention.key_length"), GgufValue.uint32(asInt(headDim)));
            kv.put(key("attention.value_length"), GgufValue.uint32(asInt(headDim)));
        }
        kv.put("general.file_type", GgufValue.uint32(type.fileType));
    }

    static void putFloatIfSet(GgufMetadata kv, String key, JsonNode v) {
        if (v != null && !v.isNull()) {
            kv.put(key, GgufValue.float32((float) v.asDouble()));
        }
    }

    // ------------------------------------------------------------------------------------ families

    /** LlamaModel: Llama, Mistral and Mixtral. */
    static final class Llama extends ConverterFamily {
        private final Map<Integer, Map<String, Planned>> experts = new HashMap<>();

        Llama() {
            super("llama");
        }

        @Override
        Map<String, String> layerNames() {
            Map<String, String> m = commonLayerNames();
            m.put("block_sparse_moe.gate", "ffn_gate_inp");
            m.put("feed_forward.experts.w1", "ffn_gate_exps");
            m.put("feed_forward.experts.w2", "ffn_down_exps");
            m.put("feed_forward.experts.w3", "ffn_up_exps");
            return m;
        }

        @Override
        String mapName(String name) {
            if (name.startsWith("layers.") && name.contains(".feed_forward.experts.")) {
                name = "model." + name; // the converter's merged expert name, mapped like a layer tensor
            }
            return super.mapName(name);
        }

        @Override
        void parameters(HfHparams hp, GgufMetadata kv, int blocks, OutType type) {
            textParameters(hp, kv, blocks, type);
            kv.put(key("vocab_size"), GgufValue.uint32(hp.intValue("vocab_size")));
            JsonNode headDim = hp.get("head_dim");
            long ropeDim = headDim != null ? headDim.asLong() : hp.intValue("hidden_size") / hp.intValue("num_attention_heads");
            kv.put(key("rope.dimension_count"), GgufValue.uint32(ropeDim));
        }

        @Override
        void vocab(Path dir, HfHparams hp, GgufMetadata kv, String pre) {
            JsonNode config = ModelDirectory.tokenizerConfig(dir);
            if (Files.isRegularFile(dir.resolve("tekken.json")) && !Files.isRegularFile(dir.resolve("tokenizer.json"))) {
                throw new CrucibleException(dir + ": Mistral's tekken.json tokenizer is not supported by crucible export gguf");
            }
            if (config != null) {
                JsonNode space = config.get("add_prefix_space");
                if (space != null && !space.isNull()) {
                    kv.put("tokenizer.ggml.add_space_prefix", GgufValue.bool(space.asBoolean()));
                }
                if ("HybridDNATokenizer".equals(config.path("tokenizer_class").asText(null))) {
                    throw new CrucibleException(dir + ": HybridDNATokenizer is not supported by crucible export gguf");
                }
            }
            if (Files.isRegularFile(dir.resolve("tokenizer.model"))) {
                ConverterVocab.sentencePiece(dir, hp, kv);
            } else if (isLlamaHfVocab(dir)) {
                throw new CrucibleException(dir + ": a SentencePiece-style tokenizer.json without tokenizer.model is not "
                        + "supported yet by crucible export gguf (llama.cpp's LlamaHfVocab); add the model's tokenizer.model");
            } else {
                ConverterVocab.gpt2(dir, hp, kv, pre);
            }
            JsonNode vs = hp.get("vocab_size");
            long vocabSize = vs == null ? 32000 : vs.asLong();
            if (vocabSize == 32016) { // CodeLlama's infill tokens
                SpecialVocab infill = new SpecialVocab(dir, false, List.of("prefix", "suffix", "middle", "eot"), null);
                infill.setSpecialToken("prefix", 32007);
                infill.setSpecialToken("suffix", 32008);
                infill.setSpecialToken("middle", 32009);
                infill.setSpecialToken("eot", 32010);
                infill.write(kv);
            }
            if (vocabSize == 49152) { // granite's small models
                kv.put("tokenizer.ggml.add_bos_token", GgufValue.bool(false));
            }
        }

        /** LlamaHfVocab's pre-check: a SentencePiece-style BPE (byte fallback, Sequence decoder) in tokenizer.json. */
        private static boolean isLlamaHfVocab(Path dir) {
            JsonNode t = GeneralMetadata.readJson(dir.resolve("tokenizer.json"));
            if (t == null) {
                return false;
            }
            JsonNode model = t.path("model");
            boolean bpe = model.path("type").asText("").equals("BPE");
            boolean llama3 = bpe && model.path("ignore_merges").asBoolean(false) && !model.path("byte_fallback").asBoolean(true);
            return !llama3 && bpe && model.path("byte_fallback").asBoolean(false)
                    && t.path("decoder").path("type").asText("").equals("Sequence");
        }

        @Override
        List<Planned> extraTensors(HfHparams hp, GgufMetadata kv) {
            JsonNode rope = hp.ropeParams();
            if (rope.isEmpty() || !rope.path("rope_type").asText("").toLowerCase(Locale.ROOT).equals("llama3")) {
                return List.of();
            }
            double base = rope.has("rope_theta") ? rope.get("rope_theta").asDouble() : 10000.0;
            JsonNode headDim = hp.get("head_dim");
            int dim = headDim != null ? headDim.asInt() : hp.intValue("hidden_size") / hp.intValue("num_attention_heads");
            float factor = (float) rope.path("factor").asDouble(8.0);
            double lowFreqFactor = rope.path("low_freq_factor").asDouble(1.0);
            double highFreqFactor = rope.path("high_freq_factor").asDouble(4.0);
            double oldContext = rope.path("original_max_position_embeddings").asDouble(8192);
            float[] factors = RopeFreqs.llama3(base, dim, factor, lowFreqFactor, highFreqFactor, oldContext);
            return List.of(new Planned("rope_freqs.weight", new long[] {factors.length}, Rows.constant(factors), DType.F32));
        }

        @Override
        List<Planned> modify(HfHparams hp, String name, Planned t) {
            int heads = (int) hp.require(List.of("n_heads", "num_attention_heads")).asLong();
            int kvHeads = (int) hp.require(List.of("n_kv_heads", "num_key_value_heads")).asLong();
            Rows rows = t.rows();
            if (name.endsWith("q_proj.weight")) {
                rows = Rows.permuted(rows, heads);
            } else if (name.endsWith("q_proj.bias")) {
                rows = Rows.permutedVector(rows, heads);
            } else if (name.endsWith("k_proj.weight")) {
                rows = Rows.permuted(rows, heads != kvHeads ? kvHeads : heads);
            } else if (name.endsWith("k_proj.bias")) {
                rows = Rows.permutedVector(rows, heads != kvHeads ? kvHeads : heads);
            }
            Planned p = new Planned(t.name(), t.shape(), rows, t.sourceDtype());
            if (name.contains("block_sparse_moe.experts")) {
                return collectExpert(hp, name, p);
            }
            return super.modify(hp, name, p);
        }

        private List<Planned> collectExpert(HfHparams hp, String name, Planned p) {
            Matcher m = Pattern.compile("^model\\.layers\\.(\\d+)\\.block_sparse_moe\\.experts\\.(\\d+)\\.(w[123])\\.weight$")
                    .matcher(name);
            if (!m.matches()) {
                throw new CrucibleException("can not map tensor '" + name + "' (unexpected Mixtral expert name)");
            }
            int bid = Integer.parseInt(m.group(1));
            int n = hp.intValue("num_local_experts");
            Map<String, Planned> layer = experts.computeIfAbsent(bid, k -> new HashMap<>());
            layer.put(name, p);
            if (layer.size() < n * 3) {
                return List.of();
            }
            List<Planned> out = new ArrayList<>();
            for (String w : List.of("w1", "w2", "w3")) {
                List<Rows> parts = new ArrayList<>();
                long[] shape = null;
                DType dtype = null;
                for (int x = 0; x < n; x++) {
                    Planned e = layer.remove("model.layers." + bid + ".block_sparse_moe.experts." + x + "." + w + ".weight");
                    if (e == null) {
                        throw new CrucibleException("Mixtral layer " + bid + " lacks expert " + x + "'s " + w);
                    }
                    parts.add(e.rows());
                    shape = e.shape();
                    dtype = e.sourceDtype();
                }
                long[] stacked = new long[] {n, shape[0], shape[1]};
                out.add(new Planned(mapName("layers." + bid + ".feed_forward.experts." + w + ".weight"), stacked,
                        Rows.stacked(parts), dtype));
            }
            return out;
        }

        @Override
        List<String> leftovers() {
            List<String> left = new ArrayList<>();
            experts.values().forEach(m -> left.addAll(m.keySet()));
            return left;
        }
    }

    /** Qwen2Model and Qwen3Model. */
    static final class Qwen extends ConverterFamily {
        Qwen(String arch) {
            super(arch);
        }

        static boolean isReranker(HfHparams hp, Path dir) {
            Path readme = dir.resolve("README.md");
            try {
                String text = Files.isRegularFile(readme) ? Files.readString(readme).toLowerCase(Locale.ROOT) : "";
                if (text.contains("# qwen3-reranker") || text.contains("# qwen3-vl-reranker")) {
                    return true;
                }
            } catch (java.io.IOException e) {
                throw new CrucibleException(readme + ": cannot read: " + e.getMessage(), e);
            }
            JsonNode archs = hp.raw.get("architectures");
            String origin = archs != null && archs.isArray() && !archs.isEmpty() ? archs.get(0).asText("") : "";
            for (String hint : List.of(dir.getFileName().toString(), hp.raw.path("_name_or_path").asText(""),
                    hp.modelType(), origin)) {
                String h = hint.toLowerCase(Locale.ROOT);
                if (h.contains("qwen3-reranker") || h.contains("qwen3-vl-reranker")) {
                    return true;
                }
            }
            return origin.toLowerCase(Locale.ROOT).contains("sequenceclassification");
        }

        @Override
        Map<String, String> layerNames() {
            Map<String, String> m = commonLayerNames();
            m.put("self_attn.q_norm", "attn_q_norm");
            m.put("self_attn.k_norm", "attn_k_norm");
            return m;
        }

        @Override
        void parameters(HfHparams hp, GgufMetadata kv, int blocks, OutType type) {
            textParameters(hp, kv, blocks, type);
            if (Files.isRegularFile(hp.configFile.resolveSibling("modules.json"))) {
                throw new CrucibleException(hp.configFile.getParent() + ": sentence-transformers models (modules.json) "
                        + "are not supported by crucible export gguf");
            }
        }

        @Override
        void vocab(Path dir, HfHparams hp, GgufMetadata kv, String pre) {
            if (Files.isRegularFile(dir.resolve("tokenizer.model"))) {
                ConverterVocab.sentencePiece(dir, hp, kv);
            } else {
                ConverterVocab.gpt2(dir, hp, kv, pre);
            }
        }
    }

    /** GemmaModel and Gemma2Model: norms stored as 1 + w, no lm_head, their own parameter keys. */
    static final class Gemma extends ConverterFamily {
        Gemma(String arch) {
            super(arch);
        }

        @Override
        boolean keep(String hfName) {
            return super.keep(hfName) && !hfName.equals("lm_head.weight");
        }

        @Override
        Map<String, String> layerNames() {
            Map<String, String> m = commonLayerNames();
            if (arch.equals("gemma2")) {
                m.put("post_attention_layernorm", "post_attention_norm");
                m.put("pre_feedforward_layernorm", "ffn_norm");
                m.put("post_feedforward_layernorm", "post_ffw_norm");
            }
            return m;
        }

        @Override
        void parameters(HfHparams hp, GgufMetadata kv, int blocks, OutType type) {
            kv.put(key("context_length"), GgufValue.uint32(hp.intValue("max_position_embeddings")));
            kv.put(key("embedding_length"), GgufValue.uint32(hp.intValue("hidden_size")));
            kv.put(key("block_count"), GgufValue.uint32(blocks));
            kv.put(key("feed_forward_length"), GgufValue.uint32(hp.intValue("intermediate_size")));
            kv.put(key("attention.head_count"), GgufValue.uint32(hp.intValue("num_attention_heads")));
            kv.put(key("attention.head_count_kv"), GgufValue.uint32(hp.has("num_key_value_heads")
                    ? hp.intValue("num_key_value_heads") : hp.intValue("num_attention_heads")));
            kv.put(key("attention.layer_norm_rms_epsilon"), GgufValue.float32((float) hp.get("rms_norm_eps").asDouble()));
            kv.put(key("attention.key_length"), GgufValue.uint32(hp.intValue("head_dim")));
            kv.put(key("attention.value_length"), GgufValue.uint32(hp.intValue("head_dim")));
            kv.put("general.file_type", GgufValue.uint32(type.fileType));
            if (arch.equals("gemma2")) {
                kv.put(key("attn_logit_softcapping"), GgufValue.float32((float) hp.get("attn_logit_softcapping").asDouble()));
                kv.put(key("final_logit_softcapping"), GgufValue.float32((float) hp.get("final_logit_softcapping").asDouble()));
                kv.put(key("attention.sliding_window"), GgufValue.uint32(hp.intValue("sliding_window")));
            }
        }

        @Override
        void vocab(Path dir, HfHparams hp, GgufMetadata kv, String pre) {
            ConverterVocab.sentencePiece(dir, hp, kv);
            if (arch.equals("gemma")) {
                // CodeGemma's infill tokens: only eot has a GGUF key; the converter sets them for every Gemma
                SpecialVocab infill = new SpecialVocab(dir, false, List.of("prefix", "suffix", "middle", "fsep", "eot"), null);
                infill.setSpecialToken("prefix", 67);
                infill.setSpecialToken("suffix", 69);
                infill.setSpecialToken("middle", 68);
                infill.setSpecialToken("fsep", 70);
                infill.setSpecialToken("eot", 107);
                infill.chatTemplate = null;
                infill.write(kv);
            }
            kv.put("tokenizer.ggml.add_space_prefix", GgufValue.bool(false));
        }

        @Override
        List<Planned> modify(HfHparams hp, String name, Planned t) {
            Planned p = name.endsWith("norm.weight")
                    ? new Planned(t.name(), t.shape(), Rows.plusOne(t.rows(), t.sourceDtype()), t.sourceDtype()) : t;
            return super.modify(hp, name, p);
        }
    }

    /** Phi3MiniModel: fused qkv and gate_up, its own parameter keys, longrope factors as tensors. */
    static final class Phi3 extends ConverterFamily {
        Phi3() {
            super("phi3");
        }

        @Override
        Map<String, String> layerNames() {
            Map<String, String> m = commonLayerNames();
            m.put("self_attn.qkv_proj", "attn_qkv");
            m.put("mlp.gate_up_proj", "ffn_up");
            return m;
        }

        private static int ropeDims(HfHparams hp) {
            long embd = hp.require(List.of("hidden_size", "n_embd")).asLong();
            long heads = hp.require(List.of("num_attention_heads", "n_head")).asLong();
            double pct = hp.rope.path("partial_rotary_factor").asDouble(1.0);
            return (int) Math.floorDiv((long) (pct * embd), heads);
        }

        private static long originalMax(HfHparams hp) {
            JsonNode v = hp.rope.get("original_max_position_embeddings");
            if (v == null || v.isNull()) {
                throw new CrucibleException(hp.configFile + ": Phi-3 needs original_max_position_embeddings");
            }
            return v.asLong();
        }

        @Override
        void parameters(HfHparams hp, GgufMetadata kv, int blocks, OutType type) {
            kv.put(key("context_length"), GgufValue.uint32(hp.require(List.of("n_positions", "max_position_embeddings")).asLong()));
            kv.put(key("rope.scaling.original_context_length"), GgufValue.uint32(originalMax(hp)));
            kv.put(key("embedding_length"), GgufValue.uint32(hp.require(List.of("hidden_size", "n_embd")).asLong()));
            kv.put(key("feed_forward_length"), GgufValue.uint32(hp.require(List.of("intermediate_size")).asLong()));
            kv.put(key("block_count"), GgufValue.uint32(blocks));
            kv.put(key("attention.head_count"), GgufValue.uint32(hp.require(List.of("num_attention_heads", "n_head")).asLong()));
            kv.put(key("attention.head_count_kv"), GgufValue.uint32(hp.require(List.of("num_key_value_heads", "n_head_kv")).asLong()));
            kv.put(key("attention.layer_norm_rms_epsilon"), GgufValue.float32((float) hp.require(List.of("rms_norm_eps")).asDouble()));
            kv.put(key("rope.dimension_count"), GgufValue.uint32(ropeDims(hp)));
            kv.put(key("rope.freq_base"), GgufValue.float32((float) hp.ropeParams().path("rope_theta").asDouble()));
            kv.put("general.file_type", GgufValue.uint32(type.fileType));
            JsonNode window = hp.get("sliding_window");
            kv.put(key("attention.sliding_window"), GgufValue.uint32(window == null ? 0 : window.asLong()));
        }

        @Override
        void vocab(Path dir, HfHparams hp, GgufMetadata kv, String pre) {
            JsonNode config = ModelDirectory.tokenizerConfig(dir);
            if (config != null) {
                if (!config.has("tokenizer_class")) {
                    throw new CrucibleException(dir.resolve(ModelDirectory.TOKENIZER_CONFIG) + ": no tokenizer_class (the "
                            + "converter reads it for Phi-3)");
                }
                if (config.get("tokenizer_class").asText("").equals("GPT2Tokenizer")) {
                    ConverterVocab.gpt2(dir, hp, kv, pre);
                    return;
                }
            }
            ConverterVocab.phi3(dir, hp, kv);
        }

        @Override
        List<Planned> extraTensors(HfHparams hp, GgufMetadata kv) {
            JsonNode longF = hp.rope.get("long_factor");
            JsonNode shortF = hp.rope.get("short_factor");
            if (longF == null || longF.isNull() || longF.isEmpty()) {
                return List.of();
            }
            long maxPos = hp.require(List.of("n_positions", "max_position_embeddings")).asLong();
            long orig = originalMax(hp);
            double scale = (double) maxPos / orig;
            String type = hp.rope.path("rope_type").asText("").toLowerCase(Locale.ROOT);
            double attnFactor;
            if (type.isEmpty()) {
                throw new CrucibleException(hp.configFile + ": missing the required key rope_scaling.type");
            } else if (type.equals("su") || type.equals("longrope")) {
                attnFactor = scale > 1.0 ? Math.sqrt(1 + Math.log(scale) / Math.log(orig)) : 1.0;
            } else if (type.equals("yarn")) {
                attnFactor = scale > 1.0 ? 0.1 * Math.log(scale) + 1.0 : 1.0;
            } else {
                throw new CrucibleException(hp.configFile + ": rope scaling type " + type + " is not supported for Phi-3");
            }
            kv.put(key("rope.scaling.attn_factor"), GgufValue.float32((float) attnFactor));
            int dims = ropeDims(hp);
            if (shortF == null || shortF.size() != longF.size() || longF.size() * 2 != dims) {
                throw new CrucibleException(hp.configFile + ": rope long and short factors must have " + dims / 2 + " values");
            }
            return List.of(
                    new Planned("rope_factors_long.weight", new long[] {longF.size()}, Rows.constant(floats(longF)), DType.F32),
                    new Planned("rope_factors_short.weight", new long[] {shortF.size()}, Rows.constant(floats(shortF)), DType.F32));
        }

        private static float[] floats(JsonNode arr) {
            float[] f = new float[arr.size()];
            for (int i = 0; i < f.length; i++) {
                f[i] = (float) arr.get(i).asDouble();
            }
            return f;
        }
    }
}
