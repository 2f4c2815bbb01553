package dev.crucible.model;

import dev.crucible.CrucibleException;
import dev.crucible.io.TensorSource;
import dev.crucible.nn.RmsNorm;
import dev.crucible.tensor.Shape;
import dev.crucible.tensor.Tensor;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * The weights of a checkpoint, checked against the spec before any computation: every tensor the family
 * needs must exist with the expected shape and a float dtype. Matrices stay as memory-mapped tensors in
 * their stored dtype; norms and biases (small) are read into float arrays.
 */
public final class TransformerWeights {
    /** One decoder layer. Absent parts (by family) are null. */
    public record Layer(RmsNorm inputNorm, RmsNorm postAttentionNorm, RmsNorm preFeedforwardNorm,
                        RmsNorm postFeedforwardNorm, RmsNorm queryNorm, RmsNorm keyNorm,
                        Tensor q, Tensor k, Tensor v, Tensor qkv, float[] qBias, float[] kBias, float[] vBias,
                        Tensor o, Tensor gate, Tensor up, Tensor gateUp, Tensor down,
                        Tensor router, Tensor[] expertGate, Tensor[] expertUp, Tensor[] expertDown) {
    }

    private final Tensor embedding;
    private final Tensor lmHead;
    private final RmsNorm finalNorm;
    private final Layer[] layers;

    private TransformerWeights(Tensor embedding, Tensor lmHead, RmsNorm finalNorm, Layer[] layers) {
        this.embedding = embedding;
        this.lmHead = lmHead;
        this.finalNorm = finalNorm;
        this.layers = layers;
    }

    /** Replaces a checked tensor by another of the same shape as it is loaded (e.g. a weight with an adapter folded in). */
    public interface Override {
        Override NONE = (name, stored) -> stored;

        Tensor apply(String name, Tensor stored);
    }

    public static TransformerWeights load(TensorSource checkpoint, TransformerSpec spec) {
        return load(checkpoint, spec, Override.NONE);
    }

    public static TransformerWeights load(TensorSource checkpoint, TransformerSpec spec, Override override) {
        Loader in = new Loader(checkpoint, spec, override);
        for (String name : spec.architecture().weightNames(spec.config())) {
            in.check(name);
        }
        Architecture.Features f = spec.features();
        Layer[] layers = new Layer[spec.layers()];
        for (int l = 0; l < layers.length; l++) {
            String p = Architecture.LAYER_PREFIX + l + ".";
            Tensor[] eg = null, eu = null, ed = null;
            if (f.moe()) {
                eg = new Tensor[spec.experts()];
                eu = new Tensor[spec.experts()];
                ed = new Tensor[spec.experts()];
                boolean fused = spec.architecture().fusedExperts();
                Tensor gateUp = fused ? in.tensor(p + Architecture.FUSED_GATE_UP) : null;
                Tensor down = fused ? in.tensor(p + Architecture.FUSED_DOWN) : null;
                int inter = spec.intermediate();
                for (int e = 0; e < spec.experts(); e++) {
                    if (fused) { // zero-copy views of expert e's rows in the [E, rows, cols] tensors
                        eg[e] = expertRows(gateUp, e, 0, inter);
                        eu[e] = expertRows(gateUp, e, inter, inter);
                        ed[e] = expertRows(down, e, 0, spec.hidden());
                    } else {
                        String ep = p + "block_sparse_moe.experts." + e + ".";
                        eg[e] = in.tensor(ep + "w1.weight");
                        ed[e] = in.tensor(ep + "w2.weight");
                        eu[e] = in.tensor(ep + "w3.weight");
                    }
                }
            }
            boolean mlp = !f.moe();
            layers[l] = new Layer(in.norm(p + "input_layernorm.weight"), in.norm(p + "post_attention_layernorm.weight"),
                    f.sandwichNorms() ? in.norm(p + "pre_feedforward_layernorm.weight") : null,
                    f.sandwichNorms() ? in.norm(p + "post_feedforward_layernorm.weight") : null,
                    f.qkNorm() ? in.norm(p + "self_attn.q_norm.weight") : null,
                    f.qkNorm() ? in.norm(p + "self_attn.k_norm.weight") : null,
                    f.fusedQkv() ? null : in.tensor(p + "self_attn.q_proj.weight"),
                    f.fusedQkv() ? null : in.tensor(p + "self_attn.k_proj.weight"),
                    f.fusedQkv() ? null : in.tensor(p + "self_attn.v_proj.weight"),
                    f.fusedQkv() ? in.tensor(p + "self_attn.qkv_proj.weight") : null,
                    f.attentionBias() ? in.vector(p + "self_attn.q_proj.bias") : null,
                    f.attentionBias() ? in.vector(p + "self_attn.k_proj.bias") : null,
                    f.attentionBias() ? in.vector(p + "self_attn.v_proj.bias") : null,
                    in.tensor(p + "self_attn.o_proj.weight"),
                    mlp && !f.fusedGateUp() ? in.tensor(p + "mlp.gate_proj.weight") : null,
                    mlp && !f.fusedGateUp() ? in.tensor(p + "mlp.up_proj.weight") : null,
                    mlp && f.fusedGateUp() ? in.tensor(p + "mlp.gate_up_proj.weight") : null,
                    mlp ? in.tensor(p + "mlp.down_proj.weight") : null,
                    f.moe() ? in.tensor(p + (spec.architecture().fusedExperts() ? Architecture.FUSED_ROUTER
                            : "block_sparse_moe.gate.weight")) : null, eg, eu, ed);
        }
        Tensor embedding = in.tensor(Architecture.EMBED);
        Tensor head = spec.tiedEmbeddings() ? embedding : in.tensor(Architecture.LM_HEAD);
        return new TransformerWeights(embedding, head, in.norm(Architecture.FINAL_NORM), layers);
    }

    /** Rows [first, first + count) of slice {@code index} of a 3-D tensor, as a 2-D view of the same memory. */
    static Tensor expertRows(Tensor t, int index, long first, long count) {
        long cols = t.dim(2);
        long rowBytes = cols * t.dtype().byteSize();
        long offset = ((long) index * t.dim(1) + first) * rowBytes;
        return new Tensor(t.dtype(), new long[] {count, cols}, t.data().asSlice(offset, count * rowBytes));
    }

    public Tensor embedding() {
        return embedding;
    }

    public Tensor lmHead() {
        return lmHead;
    }

    public RmsNorm finalNorm() {
        return finalNorm;
    }

    public Layer layer(int l) {
        return layers[l];
    }

    /** Bytes of the weights one decoding step reads (the tied head counted once). */
    public long matrixBytes() {
        long n = lmHead.byteSize();
        for (Layer l : layers) {
            for (Tensor t : new Tensor[] {l.q, l.k, l.v, l.qkv, l.o, l.gate, l.up, l.gateUp, l.down, l.router}) {
                n += t == null ? 0 : t.byteSize();
            }
            if (l.expertGate != null) {
                for (int e = 0; e < l.expertGate.length; e++) {
                    n += l.expertGate[e].byteSize() + l.expertUp[e].byteSize() + l.expertDown[e].byteSize();
                }
            }
        }
        return n;
    }

    /** Looks tensors up by name and checks their shapes against what the spec implies. */
    private static final class Loader {
        private final TensorSource checkpoint;
        private final TransformerSpec spec;
        private final Override override;
        private final Map<String, Tensor> loaded = new HashMap<>();

        Loader(TensorSource checkpoint, TransformerSpec spec, Override override) {
            this.checkpoint = checkpoint;
            this.spec = spec;
            this.override = override;
        }

        void check(String name) {
            tensor(name);
        }

        Tensor tensor(String name) {
            Tensor cached = loaded.get(name);
            if (cached != null) {
                return cached;
            }
            if (!checkpoint.contains(name)) {
                throw new CrucibleException(checkpoint.directory() + ": missing tensor '" + name + "' (a "
                        + spec.architecture().modelType() + " model needs it, shape " + Shape.toString(expected(name)) + ")");
            }
            Tensor t = checkpoint.tensor(name);
            long[] want = expected(name);
            if (!Arrays.equals(t.shape(), want)) {
                throw new CrucibleException(checkpoint.directory() + ": tensor '" + name + "' has shape "
                        + Shape.toString(t.shape()) + ", expected " + Shape.toString(want) + " from config.json");
            }
            if (!t.dtype().isFloatingPoint()) {
                throw new CrucibleException(checkpoint.directory() + ": tensor '" + name + "' has dtype " + t.dtype()
                        + ", expected a float type (F32, F16 or BF16)");
            }
            Tensor replaced = override.apply(name, t);
            if (!Arrays.equals(replaced.shape(), want)) {
                throw new IllegalStateException("an override changed the shape of '" + name + "'");
            }
            loaded.put(name, replaced);
            return replaced;
        }

        float[] vector(String name) {
            return tensor(name).toFloatArray();
        }

        RmsNorm norm(String name) {
            return new RmsNorm(vector(name), spec.features().unitOffsetNorm(), spec.normEps());
        }

        private long[] expected(String name) {
            int h = spec.hidden(), d = spec.headDim(), q = spec.heads() * d, kv = spec.kvHeads() * d;
            int inter = spec.intermediate();
            String w = Architecture.withinLayer(name);
            if (w.startsWith("block_sparse_moe.experts.")) {
                w = "experts." + w.substring(w.lastIndexOf('.', w.length() - ".weight".length() - 1) + 1);
            }
            return switch (w) {
                case Architecture.EMBED, Architecture.LM_HEAD -> new long[] {spec.vocab(), h};
                case Architecture.FINAL_NORM, "input_layernorm.weight", "post_attention_layernorm.weight",
                     "pre_feedforward_layernorm.weight", "post_feedforward_layernorm.weight" -> new long[] {h};
                case "self_attn.q_norm.weight", "self_attn.k_norm.weight" -> new long[] {d};
                case "self_attn.q_proj.weight" -> new long[] {q, h};
                case "self_attn.k_proj.weight", "self_attn.v_proj.weight" -> new long[] {kv, h};
                case "self_attn.q_proj.bias" -> new long[] {q};
                case "self_attn.k_proj.bias", "self_attn.v_proj.bias" -> new long[] {kv};
                case "self_attn.qkv_proj.weight" -> new long[] {q + 2L * kv, h};
                case "self_attn.o_proj.weight" -> new long[] {h, q};
                case "mlp.gate_proj.weight", "mlp.up_proj.weight", "experts.w1.weight", "experts.w3.weight" ->
                        new long[] {inter, h};
                case "mlp.gate_up_proj.weight" -> new long[] {2L * inter, h};
                case "mlp.down_proj.weight", "experts.w2.weight" -> new long[] {h, inter};
                case "block_sparse_moe.gate.weight", Architecture.FUSED_ROUTER -> new long[] {spec.experts(), h};
                case Architecture.FUSED_GATE_UP -> new long[] {spec.experts(), 2L * inter, h};
                case Architecture.FUSED_DOWN -> new long[] {spec.experts(), h, inter};
                default -> throw new IllegalStateException("no shape rule for weight '" + name + "'");
            };
        }
    }
}
