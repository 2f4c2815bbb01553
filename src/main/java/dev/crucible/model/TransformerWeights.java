package dev.crucible.model;

import dev.crucible.CrucibleException;
import dev.crucible.arch.Architecture;
import dev.crucible.io.TensorSource;
import dev.crucible.nn.RmsNorm;
import dev.crucible.nn.TransformerSpec;
import dev.crucible.tensor.BlockMatrix;
import dev.crucible.tensor.PackedWeight;
import dev.crucible.tensor.Shape;
import dev.crucible.tensor.Tensor;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.HashMap;
import java.util.Map;

/**
 * The weights of a checkpoint, checked against the spec before any computation: every tensor the family
 * needs must exist with the expected shape and a float dtype. Each matrix is then repacked once into the GEMM's
 * panel layout ({@link PackedWeight}: bf16 stays bf16, off the Java heap), with q, k and v stacked into one
 * matrix and gate and up into another, as the fused checkpoints of phi3 store them; its mapped pages are released
 * afterwards. The embedding stays memory-mapped (a lookup reads a few rows); norms and biases are float arrays.
 */
public final class TransformerWeights implements AutoCloseable {
    /** One decoder layer. Absent parts (by family) are null; qkv's rows are q, then k, then v. */
    public record Layer(RmsNorm inputNorm, RmsNorm postAttentionNorm, RmsNorm preFeedforwardNorm,
                        RmsNorm postFeedforwardNorm, RmsNorm queryNorm, RmsNorm keyNorm,
                        PackedWeight qkv, float[] qkvBias, PackedWeight o, PackedWeight gateUp, PackedWeight down,
                        PackedWeight router, PackedWeight[] expertGateUp, PackedWeight[] expertDown) {
    }

    private final Tensor embedding;
    private final PackedWeight lmHead;
    private final RmsNorm finalNorm;
    private final Layer[] layers;
    private final Arena arena;

    private TransformerWeights(Tensor embedding, PackedWeight lmHead, RmsNorm finalNorm, Layer[] layers, Arena arena) {
        this.embedding = embedding;
        this.lmHead = lmHead;
        this.finalNorm = finalNorm;
        this.layers = layers;
        this.arena = arena;
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
        Arena arena = Arena.ofShared();
        try {
            return load(in, spec, arena);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static TransformerWeights load(Loader in, TransformerSpec spec, Arena arena) {
        Architecture.Features f = spec.features();
        Layer[] layers = new Layer[spec.layers()];
        for (int l = 0; l < layers.length; l++) {
            String p = Architecture.LAYER_PREFIX + l + ".";
            PackedWeight[] gateUp = null, down = null;
            if (f.moe()) {
                gateUp = new PackedWeight[spec.experts()];
                down = new PackedWeight[spec.experts()];
                boolean fused = spec.architecture().fusedExperts();
                Tensor fusedGateUp = fused ? in.tensor(p + Architecture.FUSED_GATE_UP) : null;
                Tensor fusedDown = fused ? in.tensor(p + Architecture.FUSED_DOWN) : null;
                int inter = spec.intermediate();
                for (int e = 0; e < spec.experts(); e++) {
                    if (fused) { // expert e's rows of the [E, rows, cols] tensors: gate rows, then up rows
                        gateUp[e] = in.pack(arena, expertRows(fusedGateUp, e, 0, 2L * inter));
                        down[e] = in.pack(arena, expertRows(fusedDown, e, 0, spec.hidden()));
                    } else {
                        String ep = p + "block_sparse_moe.experts." + e + ".";
                        gateUp[e] = in.pack(arena, ep + "w1.weight", ep + "w3.weight");
                        down[e] = in.pack(arena, ep + "w2.weight");
                    }
                }
            }
            boolean mlp = !f.moe();
            PackedWeight qkv = f.fusedQkv() ? in.pack(arena, p + "self_attn.qkv_proj.weight")
                    : in.pack(arena, p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight",
                    p + "self_attn.v_proj.weight");
            float[] qkvBias = f.attentionBias() ? concat(in.vector(p + "self_attn.q_proj.bias"),
                    in.vector(p + "self_attn.k_proj.bias"), in.vector(p + "self_attn.v_proj.bias")) : null;
            PackedWeight mlpGateUp = !mlp ? null : f.fusedGateUp() ? in.pack(arena, p + "mlp.gate_up_proj.weight")
                    : in.pack(arena, p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight");
            layers[l] = new Layer(in.norm(p + "input_layernorm.weight"), in.norm(p + "post_attention_layernorm.weight"),
                    f.sandwichNorms() ? in.norm(p + "pre_feedforward_layernorm.weight") : null,
                    f.sandwichNorms() ? in.norm(p + "post_feedforward_layernorm.weight") : null,
                    f.qkNorm() ? in.norm(p + "self_attn.q_norm.weight") : null,
                    f.qkNorm() ? in.norm(p + "self_attn.k_norm.weight") : null,
                    qkv, qkvBias, in.pack(arena, p + "self_attn.o_proj.weight"),
                    mlpGateUp, mlp ? in.pack(arena, p + "mlp.down_proj.weight") : null,
                    f.moe() ? in.pack(arena, p + (spec.architecture().fusedExperts() ? Architecture.FUSED_ROUTER
                            : "block_sparse_moe.gate.weight")) : null, gateUp, down);
        }
        Tensor embedding = in.tensor(Architecture.EMBED);
        PackedWeight head = !spec.tiedEmbeddings() ? in.pack(arena, Architecture.LM_HEAD)
                : in.blocks(Architecture.EMBED) != null ? in.pack(arena, Architecture.EMBED) : PackedWeight.of(embedding, arena);
        return new TransformerWeights(embedding, head, in.norm(Architecture.FINAL_NORM), layers, arena);
    }

    private static float[] concat(float[]... parts) {
        int n = 0;
        for (float[] p : parts) {
            n += p.length;
        }
        float[] out = new float[n];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
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

    public PackedWeight lmHead() {
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
            List<PackedWeight> all = new ArrayList<>(Arrays.asList(l.qkv, l.o, l.gateUp, l.down, l.router));
            if (l.expertGateUp != null) {
                all.addAll(Arrays.asList(l.expertGateUp));
                all.addAll(Arrays.asList(l.expertDown));
            }
            for (PackedWeight w : all) {
                n += w == null ? 0 : w.byteSize();
            }
        }
        return n;
    }

    /** Frees the packed matrices; the model must not be used afterwards. */
    @java.lang.Override
    public void close() {
        arena.close();
    }

    /** Looks tensors up by name and checks their shapes against what the spec implies. */
    private static final class Loader {
        private final TensorSource checkpoint;
        private final TransformerSpec spec;
        private final Override override;
        private final Map<String, Tensor> loaded = new HashMap<>();
        private final Map<String, BlockMatrix> loadedBlocks = new HashMap<>();

        Loader(TensorSource checkpoint, TransformerSpec spec, Override override) {
            this.checkpoint = checkpoint;
            this.spec = spec;
            this.override = override;
        }

        void check(String name) {
            if (blocks(name) == null) {
                tensor(name);
            }
        }

        /**
         * The weight as ggml blocks when the checkpoint stores it so (a GGUF's quantised matrix) and no override
         * may replace it; checked as {@link #tensor} checks, without dequantising it.
         */
        BlockMatrix blocks(String name) {
            if (override != Override.NONE) {
                return null;
            }
            BlockMatrix cached = loadedBlocks.get(name);
            if (cached != null || !checkpoint.contains(name)) {
                return cached;
            }
            BlockMatrix b = checkpoint.blocks(name);
            if (b != null) {
                long[] want = expected(name);
                if (want.length != 2 || want[0] != b.rows() || want[1] != b.cols()) {
                    throw new CrucibleException(checkpoint.directory() + ": tensor '" + name + "' has shape ["
                            + b.rows() + ", " + b.cols() + "], expected " + Shape.toString(want) + " from config.json");
                }
                loadedBlocks.put(name, b);
            }
            return b;
        }

        /**
         * The named weights stacked by rows: kept in their ggml blocks when every one is stored so (the kernels
         * multiply them in place), else as {@link #tensor}s packed by {@link #pack(Arena, Tensor...)}.
         */
        PackedWeight pack(Arena arena, String... names) {
            BlockMatrix[] blocks = new BlockMatrix[names.length];
            boolean all = true;
            for (int i = 0; i < names.length && all; i++) {
                blocks[i] = blocks(names[i]);
                all = blocks[i] != null;
            }
            PackedWeight w = all ? PackedWeight.blocks(blocks) : null;
            if (w != null) {
                return w;
            }
            Tensor[] parts = new Tensor[names.length];
            for (int i = 0; i < names.length; i++) {
                parts[i] = tensor(names[i]);
            }
            return pack(arena, parts);
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

        /**
         * The tensors stacked by rows and packed; their mapped pages are dropped from the resident set afterwards
         * (the file stays in the page cache; the packed copy is what the kernels read).
         */
        PackedWeight pack(Arena arena, Tensor... parts) {
            PackedWeight w = PackedWeight.stacked(arena, parts);
            for (Tensor t : parts) {
                if (t.data().isMapped()) {
                    t.data().unload();
                }
            }
            return w;
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
