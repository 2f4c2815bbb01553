package dev.crucible.gguf;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * llama-quantize's choice of a type for every tensor of a preset (llama-quant.cpp, without an importance
 * matrix or overrides): which tensors may be quantised at all, the preset's mixture (Q4_K_M gives half of
 * attn_v and ffn_down Q6_K by its {@code use_more_bits} rule, the output Q6_K, ...), and the fallback for rows
 * that are not whole blocks. Tensors are visited in llama.cpp's loader order (by layer, then by name), which the
 * layer counters depend on, and the output file keeps that order.
 */
final class QuantizeRecipe {
    /** A tensor of the input file: name, ggml dims, type. */
    record Input(String name, long[] dims, GgmlType type) {
    }

    /** The model facts the mixture reads (llama_hparams). */
    record Model(String arch, int layers, int heads, int kvHeads, int experts) {
        int gqa() {
            return kvHeads == 0 ? 0 : heads / kvHeads;
        }

        /** llama.cpp's LLM_TYPE_70B: an 80-layer llama with grouped-query attention. */
        boolean is70B() {
            return arch.equals("llama") && layers == 80 && heads != kvHeads;
        }
    }

    enum Category { OUTPUT, TOKEN_EMBD, ATTENTION_QKV, ATTENTION_KV_B, ATTENTION_V, ATTENTION_K, ATTENTION_Q,
        ATTENTION_OUTPUT, FFN_UP, FFN_GATE, FFN_DOWN, OTHER }

    private static final Pattern LAYER = Pattern.compile("^blk\\.(-?\\d+)\\.");

    private final OutType preset;
    private final Model model;
    private int nAttentionWv;
    private int iAttentionWv;
    private int iFfnDown;
    private int iFfnGate;
    private int iFfnUp;
    private boolean tiedEmbeddings = true;

    private QuantizeRecipe(OutType preset, Model model) {
        this.preset = preset;
        this.model = model;
    }

    /** The output tensors in llama-quantize's order with the types it picks. */
    static List<Input> plan(OutType preset, Model model, List<Input> inputs) {
        List<Input> ordered = new ArrayList<>(inputs);
        ordered.sort(Comparator.comparingInt((Input t) -> layerOf(t.name())).thenComparing(Input::name));
        QuantizeRecipe r = new QuantizeRecipe(preset, model);
        for (Input t : ordered) {
            Category c = category(t.name());
            if (c == Category.ATTENTION_V || c == Category.ATTENTION_QKV || c == Category.ATTENTION_KV_B) {
                r.nAttentionWv++;
            }
            if (c == Category.OUTPUT) {
                r.tiedEmbeddings = false;
            }
        }
        List<Input> out = new ArrayList<>();
        for (Input t : ordered) {
            GgmlType type = allowsQuantization(t) ? r.typeOf(t) : t.type();
            out.add(new Input(t.name(), t.dims(), type));
        }
        return out;
    }

    /** sscanf(name, "blk.%d.") of the loader's comparator: -1 for tensors outside the layers. */
    static int layerOf(String name) {
        Matcher m = LAYER.matcher(name);
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }

    static Category category(String name) {
        if (name.equals("output.weight")) {
            return Category.OUTPUT;
        }
        if (name.equals("token_embd.weight") || name.equals("per_layer_token_embd.weight")) {
            return Category.TOKEN_EMBD;
        }
        if (name.contains("attn_qkv.weight")) {
            return Category.ATTENTION_QKV;
        }
        if (name.contains("attn_kv_b.weight")) {
            return Category.ATTENTION_KV_B;
        }
        if (name.contains("attn_v.weight")) {
            return Category.ATTENTION_V;
        }
        if (name.contains("attn_k.weight")) {
            return Category.ATTENTION_K;
        }
        if (name.contains("attn_q.weight")) {
            return Category.ATTENTION_Q;
        }
        if (name.contains("attn_output.weight")) {
            return Category.ATTENTION_OUTPUT;
        }
        if (name.contains("ffn_up")) {
            return Category.FFN_UP;
        }
        if (name.contains("ffn_gate")) {
            return Category.FFN_GATE;
        }
        if (name.contains("ffn_down")) {
            return Category.FFN_DOWN;
        }
        return Category.OTHER;
    }

    /** ggml_n_dims: trailing dimensions of 1 do not count. */
    static int nDims(long[] dims) {
        for (int i = dims.length - 1; i >= 1; i--) {
            if (dims[i] > 1) {
                return i + 1;
            }
        }
        return 1;
    }

    /** tensor_allows_quantization for the tensors of the families Crucible exports. */
    static boolean allowsQuantization(Input t) {
        if (nDims(t.dims()) < 2) {
            return false;
        }
        String n = t.name();
        return n.endsWith("weight") && !n.contains("_norm.weight") && !n.contains("ffn_gate_inp.weight")
                && !n.contains("ffn_gate_tid2eid.weight") && !n.contains("altup") && !n.contains("laurel")
                && !n.contains("per_layer_model_proj") && !n.equals("position_embd.weight")
                && !n.equals("token_types.weight") && !n.contains("ssm_conv1d") && !n.contains("shortconv.conv.weight")
                && !n.contains("attn_rel_b.weight") && !n.contains(".position_embd");
    }

    private static boolean useMoreBits(int i, int n) {
        return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
    }

    /** layer_info: the counter for dense models, the layer in the name for mixtures of experts. */
    private int layer(int counter, String name) {
        if (Math.max(1, model.experts()) > 1) {
            int l = layerOf(name);
            if (l < 0 || l >= model.layers()) {
                throw new IllegalStateException("bad layer " + l + " for tensor " + name);
            }
            return l;
        }
        return counter;
    }

    /** llama_tensor_get_type: the preset's choice, then the fallback for incompatible row lengths. */
    private GgmlType typeOf(Input t) {
        GgmlType type = preset.defaultType;
        Category c = category(t.name());
        OutType f = preset;
        boolean kM = f == OutType.Q4_K_M || f == OutType.Q5_K_M;
        if (c == Category.OUTPUT || (tiedEmbeddings && c == Category.TOKEN_EMBD)) {
            if (t.dims()[0] % type.blockSize != 0) {
                type = GgmlType.Q8_0;
            } else if (type != GgmlType.Q8_0) {
                type = GgmlType.Q6_K;
            }
        } else if (c == Category.TOKEN_EMBD) {
            // the presets here keep the default type
        } else if (c == Category.ATTENTION_V || c == Category.ATTENTION_QKV || c == Category.ATTENTION_KV_B) {
            if (kM && useMoreBits(iAttentionWv, nAttentionWv)) {
                type = GgmlType.Q6_K;
            }
            if (model.is70B() && (type == GgmlType.Q3_K || type == GgmlType.Q4_K)) {
                type = GgmlType.Q5_K;
            }
            if (model.experts() == 8) {
                type = GgmlType.Q8_0;
            }
            iAttentionWv++;
        } else if (c == Category.ATTENTION_K) {
            if (model.experts() == 8) {
                type = GgmlType.Q8_0;
            }
        } else if (c == Category.FFN_DOWN) {
            int l = layer(iFfnDown, t.name());
            if (kM && useMoreBits(l, model.layers())) {
                type = GgmlType.Q6_K;
            }
            iFfnDown++;
        } else if (c == Category.ATTENTION_OUTPUT) {
            if (model.experts() == 8 && f == OutType.Q4_K_M) {
                type = GgmlType.Q5_K;
            }
        } else if (c == Category.FFN_GATE) {
            layer(iFfnGate, t.name());
            iFfnGate++;
        } else if (c == Category.FFN_UP) {
            layer(iFfnUp, t.name());
            iFfnUp++;
        }
        return fallback(t, type);
    }

    /** tensor_type_fallback: a type whose block fits the row, or F16 when none does. */
    private static GgmlType fallback(Input t, GgmlType type) {
        long cols = t.dims()[0];
        if (cols % type.blockSize == 0) {
            return type;
        }
        GgmlType next = switch (type) {
            case Q2_K, Q3_K -> GgmlType.Q4_0;
            case Q4_K -> GgmlType.Q5_0;
            case Q5_K -> GgmlType.Q5_1;
            case Q6_K -> GgmlType.Q8_0;
            default -> throw new IllegalStateException("no tensor type fallback is defined for type "
                    + type.name().toLowerCase(java.util.Locale.ROOT));
        };
        return cols % next.blockSize != 0 ? GgmlType.F16 : next;
    }
}
