package dev.crucible.train;

import dev.crucible.CrucibleException;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.ModelConfig;
import dev.crucible.io.ModelDirectory;
import dev.crucible.io.TensorInfo;
import dev.crucible.arch.Architecture;
import dev.crucible.autograd.LogProbs;
import dev.crucible.nn.LinearLayers;
import dev.crucible.nn.TransformerSpec;
import dev.crucible.peft.LoraConfig;
import dev.crucible.tensor.Nf4Weight;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What one training step holds in memory and how much it computes, derived from what the trainer and {@code nn}'s ops
 * keep rather than from a per-token rule of thumb. The weights are counted tensor by tensor from the checkpoint's
 * header as {@link Trainer} loads them (float32 copies; QLoRA's decoder linears in NF4 with double-quantised
 * scales; every {@link dev.crucible.autograd.Parameter} allocates its gradient when it is created; AdamW its two moments at
 * the first step). Activations come from a replay of the step on a model of the tape: every op of
 * {@code DecoderTraining}'s forward is recorded with the arrays its backward closure holds (its inputs, its output and
 * what it saves: RMSNorm's inverse norms, attention's log-sum-exp, LoRA's {@code s·x_d Aᵀ} and transposed B, the
 * dropout mask and dropped-out input, DoRA's low-rank and base products), then backward runs in reverse: each op
 * allocates its inputs' gradients and its scratch, and once it has run, the arrays only it held are freed (as
 * {@code Tape.replay} drops each closure). The peak of that replay is the step's peak. With gradient checkpointing a
 * layer keeps only its output and its input, and its ops are recorded again, on their own tape, when backward reaches it.
 *
 * <p>The heap the JVM needs is more than the bytes: G1 stores an array of half a region or more in whole regions of
 * its own (a [2048, 576] float32 activation, 4.5 MiB, takes two 4 MiB regions), so every array is counted at its G1
 * footprint for the region size the heap would have. Outside the heap the process holds the JVM itself and the
 * memory-mapped checkpoint, whose pages stay resident after loading has read every tensor once.
 */
public final class MemoryPlan {
    private static final long MIB = 1L << 20;
    /** Array header with compressed class pointers: mark word, class word, length. */
    private static final long ARRAY_HEADER = 16;

    /**
     * A run to plan. {@code rows}: sequences in one forward (micro_batch_size; a preference pair concatenates chosen and
     * rejected, so twice it); {@code seq}: their padded length; {@code lora}: null for full fine-tuning;
     * {@code referenceCopy}: a frozen float32 copy of the weights held beside the policy (a preference reference model
     * run every step with full fine-tuning).
     */
    public record Run(Trainer.Method method, LoraConfig lora, int rows, int seq, boolean checkpointing, int threads,
                      boolean referenceCopy) {
        public Run {
            if ((method == Trainer.Method.FULL) != (lora == null)) {
                throw new IllegalArgumentException("full fine-tuning takes no LoRA config; the adapter methods need one");
            }
            if (rows < 1 || seq < 1 || threads < 1) {
                throw new IllegalArgumentException("rows, seq and threads must be at least 1");
            }
        }

        public Run(Trainer.Method method, LoraConfig lora, int rows, int seq, boolean checkpointing, int threads) {
            this(method, lora, rows, seq, checkpointing, threads, false);
        }

        public long tokens() {
            return (long) rows * seq;
        }

        /**
         * The run a trainer's settings describe, with {@code rows} sequences of {@code seq} tokens in one forward;
         * {@code preference} null for supervised fine-tuning. A preference reference run every step is a frozen copy
         * of the weights with full fine-tuning; with an adapter it is the base itself, the adapter switched off.
         */
        public static Run of(Trainer.Settings s, PreferenceObjective.Config preference, int rows, int seq, int threads) {
            LoraConfig lora = s.lora() == null ? null : s.lora().initialAdapter() != null
                    ? LoraConfig.read(s.lora().initialAdapter()) : s.lora().freshConfig(s.method().dora());
            boolean referenceCopy = preference != null && preference.method().usesReference()
                    && !preference.precomputeReference() && s.method() == Trainer.Method.FULL;
            return new Run(s.method(), lora, rows, seq, s.gradientCheckpointing(), threads, referenceCopy);
        }
    }

    /** A model as its config and checkpoint header describe it: every tensor's shape, and the bytes of its files. */
    public record Model(ModelConfig config, Map<String, long[]> shapes, long checkpointBytes) {
        public static Model of(ModelDirectory dir) {
            try (Checkpoint c = dir.openCheckpoint()) {
                Map<String, long[]> shapes = new LinkedHashMap<>();
                for (String name : c.names()) {
                    TensorInfo info = c.info(name);
                    shapes.put(name, info.shape());
                }
                return new Model(dir.config(), shapes, c.totalBytes());
            }
        }

        long numel(String name) {
            long n = 1;
            for (long d : shape(name)) {
                n *= d;
            }
            return n;
        }

        long[] shape(String name) {
            long[] s = shapes.get(name);
            if (s == null) {
                throw new CrucibleException("the model has no tensor '" + name + "' that training would use");
            }
            return s;
        }

        /** Linear weights inside the decoder layers, by module path (what all-linear wraps and QLoRA quantises). */
        List<String> decoderLinears() {
            List<String> out = new ArrayList<>();
            for (String name : shapes.keySet().stream().sorted(LinearLayers.BY_LAYER).toList()) {
                if (name.startsWith(Architecture.LAYER_PREFIX) && name.endsWith(".weight") && shapes.get(name).length == 2) {
                    out.add(name.substring(0, name.length() - ".weight".length()));
                }
            }
            return out;
        }

        public long parameters() {
            long n = 0;
            for (String name : shapes.keySet()) {
                n += numel(name);
            }
            return n;
        }
    }

    /**
     * The estimate. Byte figures are payloads (what the arrays hold); {@link #heapNeeded} is their G1 footprint.
     *
     * @param weights        float32 weights as loaded (trainable values and frozen copies)
     * @param nf4            QLoRA's quantised decoder linears (packed codes and double-quantised scales)
     * @param gradients      the trainable parameters' gradients
     * @param optimizer      AdamW's two moments
     * @param reference      a frozen reference copy of the weights (preference training), else 0
     * @param activations    what the forward keeps for backward (the retained arrays at the end of the forward)
     * @param backwardPeak   what backward adds at its worst moment: gradients of activations, the logits' gradient,
     *                       a checkpointed layer's recomputation
     * @param scratch        per-thread kernel scratch (attention's score blocks, GEMM and NF4 tiles)
     * @param heapNeeded     G1 footprint of all of it at the peak, for {@link #regionBytes} regions
     * @param checkpointBytes the mapped checkpoint, resident after loading (outside the heap)
     * @param flopsPerStep   multiply-adds × 2 of one micro-batch's forward and backward
     */
    public record Estimate(Run run, long trainableParameters, long weights, long nf4, long gradients, long optimizer,
                           long reference, long activations, long backwardPeak, long scratch, long heapNeeded,
                           long regionBytes, long checkpointBytes, double flopsPerStep) {
        /** The payload bytes at the step's peak. */
        public long tensors() {
            return weights + nf4 + gradients + optimizer + reference + activations + backwardPeak + scratch;
        }

        /**
         * The maximum heap to give the JVM ({@code -Xmx}): the G1 footprint at the peak plus {@link #RUN_OBJECTS}, and
         * {@link #HEAP_MARGIN} more,
         * for the small objects beside the tensors and so that a humongous array finds free regions without a full
         * collection, rounded up to 64 MiB.
         */
        public long recommendedHeap() {
            long heap = (long) Math.ceil((heapNeeded + RUN_OBJECTS) * (1 + HEAP_MARGIN));
            return (heap + 64 * MIB - 1) / (64 * MIB) * (64 * MIB);
        }

        /**
         * The process's expected peak resident memory run with {@link #recommendedHeap}: G1 grows the heap to its
         * maximum under a training step's allocation rate, so all of it is touched; beside it the JVM's own memory
         * (code, metadata, G1's bookkeeping) and the mapped checkpoint, every page of which loading reads once.
         */
        public long expectedRss() {
            long heap = recommendedHeap();
            return heap + JVM_BYTES + (long) (heap * G1_BOOKKEEPING) + checkpointBytes;
        }

        /** One line: the parts and the process total. */
        public String describe() {
            StringBuilder sb = new StringBuilder();
            sb.append(String.format(Locale.ROOT, "weights %s", size(weights)));
            if (nf4 > 0) {
                sb.append(String.format(Locale.ROOT, ", NF4 base %s", size(nf4)));
            }
            sb.append(String.format(Locale.ROOT, ", gradients %s and AdamW state %s of %,d trainable parameters",
                    size(gradients), size(optimizer), trainableParameters));
            if (reference > 0) {
                sb.append(String.format(Locale.ROOT, ", reference model %s", size(reference)));
            }
            sb.append(String.format(Locale.ROOT, ", activations %s%s and %s more in backward; heap %s, process %s",
                    size(activations), run.checkpointing() ? " (gradient checkpointing)" : "",
                    size(backwardPeak + scratch), size(recommendedHeap()), size(expectedRss())));
            return sb.toString();
        }
    }

    /** Headroom over the heap's peak footprint in {@link Estimate#recommendedHeap} (measured: docs/BENCHMARKS.md). */
    static final double HEAP_MARGIN = 0.15;
    /**
     * The run's own objects beside the tensors (rows and their ids, the tokenizer's vocabulary, configs, metrics),
     * which a percentage of a tiny model's tensors does not cover: the tiny shape's LoRA run with checkpointing
     * (about 40 MiB of counted tensors) ran out of memory at a 64 MiB heap and ran at 72 MiB (docs/BENCHMARKS.md).
     */
    static final long RUN_OBJECTS = 16 * MIB;
    /**
     * The JVM's resident memory besides the heap (code, class metadata, JIT, threads): 115-120 MiB measured on a
     * training run of the 400 KB Llama fixture with a 64 MiB heap touched in full (docs/BENCHMARKS.md, Planning).
     */
    static final long JVM_BYTES = 120 * MIB;
    /** G1's per-heap structures (mark bitmap, card table, block offsets, remembered sets), as a share of the heap. */
    static final double G1_BOOKKEEPING = 0.03;

    /** "812 MiB" or "5.10 GiB". */
    public static String size(long bytes) {
        return bytes >= 1L << 30 ? String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30))
                : String.format(Locale.ROOT, "%.0f MiB", bytes / (double) MIB);
    }

    private MemoryPlan() {
    }

    /** The estimate for {@code run} on {@code model}, its heap counted for the regions of a heap of {@code heapBytes}. */
    public static Estimate estimate(Model model, Run run, long heapBytes) {
        return new Planner(model, run, regionBytes(heapBytes)).estimate();
    }

    /**
     * The estimate with the heap sized to fit it: region size depends on the heap, and the footprint on the region
     * size, so the two are found together (a few rounds at most: regions change only at powers of two).
     */
    public static Estimate estimate(Model model, Run run) {
        long heap = 64 * MIB;
        Estimate e = null;
        for (int i = 0; i < 8; i++) {
            e = estimate(model, run, heap);
            long next = e.heapNeeded();
            if (regionBytes(next) == e.regionBytes()) {
                return e;
            }
            heap = next;
        }
        return e;
    }

    /** G1's region size for a maximum heap: heap / 2048 rounded down to a power of two, within [1, 32] MiB. */
    public static long regionBytes(long heapBytes) {
        long size = Math.max(MIB, heapBytes / 2048);
        long pow = Long.highestOneBit(size);
        return Math.min(32 * MIB, pow);
    }

    /** Heap bytes an array of {@code payload} bytes occupies in G1 with {@code region}-byte regions. */
    public static long footprint(long payload, long region) {
        long size = (ARRAY_HEADER + payload + 7) & ~7L;
        return size >= region / 2 ? (size + region - 1) / region * region : size;
    }

    /** The model of the tape, for one region size: a running total of live bytes and its peak. */
    private static final class Planner {
        private final Model model;
        private final Run run;
        private final long region;
        private final ModelConfig config;
        private final TransformerSpec spec;
        private final Architecture.Features features;
        private final long n;
        /** Payload and footprint live now, and at the peak. */
        private long liveBytes;
        private long liveHeap;
        private long peakBytes;
        private long peakHeap;
        private double flops;
        private final List<Op> tape = new ArrayList<>();

        Planner(Model model, Run run, long region) {
            this.model = model;
            this.run = run;
            this.region = region;
            this.config = model.config();
            this.spec = TransformerSpec.of(config, Architecture.ofOrInfer(config, model.shapes().keySet()));
            this.features = spec.features();
            this.n = run.tokens();
        }

        /** A float32 array of the step; a value and, once backward writes to it, a gradient of the same size. */
        final class Value {
            final long elements;
            final boolean requiresGrad;
            /** False for a view of another value's array (a recomputed layer's input): only its gradient is new. */
            final boolean owned;
            int holders;
            boolean hasGrad;
            boolean freed;
            /** Its values dropped before backward (DecoderTraining's releaseValue): only the gradient remains. */
            boolean valueReleased;

            Value(long elements, boolean requiresGrad) {
                this(elements, requiresGrad, true);
            }

            Value(long elements, boolean requiresGrad, boolean owned) {
                this.elements = elements;
                this.requiresGrad = requiresGrad;
                this.owned = owned;
                if (owned) {
                    allocate(4 * elements);
                }
            }
        }

        /** One recorded op: the values its closure holds, what it saves besides, and its backward's scratch and FLOPs. */
        final class Op {
            final List<Value> holds = new ArrayList<>();
            final List<Value> inputs = new ArrayList<>();
            final List<Long> saved = new ArrayList<>();
            final List<Long> backwardScratch = new ArrayList<>();
            double backwardFlops;
            /** A checkpointed layer: backward records and replays the layer's ops again. */
            Runnable recompute;
        }

        private void allocate(long payload) {
            liveBytes += payload;
            liveHeap += footprint(payload, region);
            if (liveHeap > peakHeap) {
                peakHeap = liveHeap;
                peakBytes = liveBytes;
            }
        }

        private void release(long payload) {
            liveBytes -= payload;
            liveHeap -= footprint(payload, region);
        }

        private void free(Value v) {
            if (!v.freed) {
                v.freed = true;
                if (v.owned && !v.valueReleased) {
                    release(4 * v.elements);
                }
                if (v.hasGrad) {
                    release(4 * v.elements);
                }
            }
        }

        /** Drops a value's array before backward, as DecoderTraining does with what only rope or a residual add reads. */
        private void releaseValue(Value v) {
            if (!v.freed && v.owned && !v.valueReleased) {
                v.valueReleased = true;
                release(4 * v.elements);
            }
        }

        /**
         * Records an op that reads {@code inputs} and makes an output of {@code outElements} floats. It is on the tape
         * only when something it reads needs a gradient ({@code trainable}: a trainable weight of its own), as in
         * {@code Ops}; an op off the tape keeps nothing, and its output needs no gradient.
         */
        private Value op(List<Value> inputs, boolean trainable, long outElements, long[] saved, long[] scratch,
                         double forwardFlops, double backwardFlops) {
            boolean recorded = trainable;
            for (Value v : inputs) {
                recorded |= v.requiresGrad;
            }
            flops += forwardFlops;
            Value out = new Value(outElements, recorded);
            if (!recorded) {
                return out;
            }
            Op op = new Op();
            op.inputs.addAll(inputs);
            op.holds.addAll(inputs);
            op.holds.add(out);
            for (long s : saved) {
                op.saved.add(s);
                allocate(4 * s);
            }
            for (long s : scratch) {
                op.backwardScratch.add(s);
            }
            op.backwardFlops = backwardFlops;
            op.holds.forEach(v -> v.holders++);
            tape.add(op);
            return out;
        }

        /** Drops a value no op holds: the forward's intermediates that nothing recorded keeps. */
        private void dropIfUnheld(Value v) {
            if (v.holders == 0) {
                free(v);
            }
        }

        private static long[] of(long... sizes) {
            return sizes;
        }

        // ---- the ops, as DecoderTraining calls them ----

        private Value norm(Value x, int width) {
            boolean w = fullTraining();
            long rowsCount = x.elements / width;
            return op(List.of(x), w, x.elements, of(rowsCount, width), of(), 4.0 * x.elements, 6.0 * x.elements);
        }

        private boolean fullTraining() {
            return run.method() == Trainer.Method.FULL;
        }

        private long[] weightShape(String module) {
            return model.shape(module + ".weight");
        }

        /** A linear layer by module path: dense, or with a LoRA/DoRA adapter over a float or NF4 base. */
        private Value linear(Value x, String module) {
            long[] s = weightShape(module);
            long out = s[0];
            long in = s[1];
            long rows = x.elements / in;
            double product = 2.0 * rows * in * out;
            LoraConfig lora = run.lora();
            boolean adapted = lora != null && module.startsWith(Architecture.LAYER_PREFIX) && lora.targets(module);
            boolean saved = lora != null && lora.savesModule(module);
            if (!adapted) {
                boolean trainable = fullTraining() || saved;
                // backward: dx = dy W when x needs it, dW = dyᵀ x when W is trained
                double back = (x.requiresGrad ? product : 0) + (trainable ? product : 0);
                return op(List.of(x), trainable, rows * out, of(), of(), product, back);
            }
            int r = lora.rank(module);
            boolean dropout = lora.loraDropout() > 0;
            double low = 2.0 * rows * r * (in + out);
            double back = (x.requiresGrad ? product : 0) + 2 * low;
            List<Long> keep = new ArrayList<>(List.of(rows * r));
            List<Long> scratch = new ArrayList<>(List.of(rows * r));
            if (dropout) { // the mask and the dropped-out input
                keep.add(rows * in);
                keep.add(rows * in);
            }
            if (run.method().dora()) {
                // y = base + (μ - 1)·base_d + μ·s·lb: lb and base_d stay for backward; the weight norms and μ too
                keep.add(rows * out);
                keep.add(rows * out);
                keep.add(out);
                keep.add(out);
                scratch.add(rows * out);
                scratch.add(rows * out);
                scratch.add(rows * in);
                double normFlops = 2.0 * out * r * in;
                product += dropout ? product : 0; // base_d = x_d Wᵀ is a second product under dropout
                back += x.requiresGrad ? 2.0 * rows * in * out : 0;
                return op(List.of(x), true, rows * out, longs(keep), longs(scratch), product + low + normFlops, back);
            }
            keep.add((long) r * out); // B transposed for the forward's product
            scratch.add((long) r * out);
            if (dropout) {
                scratch.add(rows * in);
            }
            return op(List.of(x), true, rows * out, longs(keep), longs(scratch), product + low, back);
        }

        private static long[] longs(List<Long> values) {
            return values.stream().mapToLong(Long::longValue).toArray();
        }

        private Value elementwise(List<Value> inputs, long elements, double flopsPerElement) {
            return op(inputs, false, elements, of(), of(), flopsPerElement * elements, 2 * flopsPerElement * elements);
        }

        private Value columns(Value x, long width) {
            return op(List.of(x), false, n * width, of(), of(), 0, 0);
        }

        private Value attention(Value q, Value k, Value v, int heads, int kvHeads, int headDim) {
            long seq = run.seq();
            // causal: a block of 16 queries reads the keys up to its last row, about half the square
            double pairs = (double) run.rows() * heads * (seq * (seq + 16) / 2.0);
            double forward = 4.0 * pairs * headDim;
            // per (batch, kv head) task: dKᵀ and dVᵀ [headDim, seq]; the scores themselves are per-thread scratch
            long[] scratch = of((long) headDim * seq, (long) headDim * seq);
            return op(List.of(q, k, v), false, n * heads * headDim, of((long) run.rows() * heads * seq), scratch,
                    forward, 10.0 * pairs * headDim);
        }

        // ---- the model ----

        private long layerWidth(String module) {
            return weightShape(module)[0];
        }

        /** One decoder layer as {@code DecoderTraining.layer} runs it. */
        private Value layer(Value x, int layer) {
            int heads = config.numAttentionHeads();
            int kvHeads = config.numKeyValueHeads();
            int headDim = config.headDim();
            int hidden = config.hiddenSize();
            String p = Architecture.LAYER_PREFIX + layer + ".";
            Value h = norm(x, hidden);
            Value q;
            Value k;
            Value v;
            if (features.fusedQkv()) {
                Value qkv = linear(h, p + "self_attn.qkv_proj");
                q = columns(qkv, (long) heads * headDim);
                k = columns(qkv, (long) kvHeads * headDim);
                v = columns(qkv, (long) kvHeads * headDim);
            } else {
                q = linear(h, p + "self_attn.q_proj");
                k = linear(h, p + "self_attn.k_proj");
                v = linear(h, p + "self_attn.v_proj");
            }
            if (features.qkNorm()) {
                q = norm(q, headDim);
                k = norm(k, headDim);
            }
            Value unrotated = q;
            q = elementwise(List.of(q), q.elements, 3);
            releaseValue(unrotated);
            unrotated = k;
            k = elementwise(List.of(k), k.elements, 3);
            releaseValue(unrotated);
            Value attn = attention(q, k, v, heads, kvHeads, headDim);
            Value a = linear(attn, p + "self_attn.o_proj");
            if (features.sandwichNorms()) {
                a = norm(a, hidden);
            }
            x = elementwise(List.of(x, a), x.elements, 1);
            releaseValue(a);
            h = norm(x, hidden);
            Value m = features.moe() ? moe(h, p + "block_sparse_moe.") : mlp(h, p + "mlp.");
            if (features.sandwichNorms()) {
                m = norm(m, hidden);
            }
            Value out = elementwise(List.of(x, m), x.elements, 1);
            releaseValue(m);
            return out;
        }

        private Value mlp(Value h, String p) {
            Value gate;
            Value up;
            if (features.fusedGateUp()) {
                Value gu = linear(h, p + "gate_up_proj");
                long inter = layerWidth(p + "gate_up_proj") / 2;
                gate = columns(gu, inter);
                up = columns(gu, inter);
            } else {
                gate = linear(h, p + "gate_proj");
                up = linear(h, p + "up_proj");
            }
            Value act = elementwise(List.of(gate, up), gate.elements, 8);
            return linear(act, p + "down_proj");
        }

        /** Mixtral's block: router, top-k weights, each expert's tokens gathered (an even share assumed), combined. */
        private Value moe(Value h, String p) {
            int experts = spec.experts();
            int k = spec.expertsPerToken();
            int hidden = config.hiddenSize();
            Value router = linear(h, p + "gate");
            Value weights = op(List.of(router), false, n * k, of(), of(), 0, 0);
            long share = (n * k + experts - 1) / experts;
            List<Value> outputs = new ArrayList<>();
            List<Value> combineInputs = new ArrayList<>(List.of(weights));
            for (int e = 0; e < experts; e++) {
                String ep = p + "experts." + e + ".";
                Value xe = op(List.of(h), false, share * hidden, of(), of(), 0, 0);
                Value act = elementwise(List.of(linear(xe, ep + "w1"), linear(xe, ep + "w3")), share * layerWidth(ep + "w1"), 8);
                outputs.add(linear(act, ep + "w2"));
            }
            combineInputs.addAll(outputs);
            return op(combineInputs, false, n * hidden, of(), of(), 2.0 * n * k * hidden, 4.0 * n * k * hidden);
        }

        /** A layer with gradient checkpointing: run on a throwaway tape, only its output kept; recorded again in backward. */
        private Value checkpointedLayer(Value x, int layer) {
            int mark = tape.size();
            Value y = layer(x, layer);
            List<Op> thrown = new ArrayList<>(tape.subList(mark, tape.size()));
            tape.subList(mark, tape.size()).clear();
            Op op = new Op();
            if (y.requiresGrad) { // the checkpoint's closure keeps the layer's input and output
                op.inputs.add(x);
                op.holds.add(x);
                op.holds.add(y);
                op.holds.forEach(v -> v.holders++);
                tape.add(op);
            }
            // the throwaway tape is garbage once the layer is done: what only it held goes
            thrown.forEach(this::release);
            op.recompute = () -> {
                int at = tape.size();
                Value in = new Value(x.elements, x.requiresGrad, false); // a leaf over x's values
                in.holders++;
                Value again = layer(in, layer);
                again.hasGrad = true; // the checkpoint output's gradient is copied into the recomputed one
                allocate(4 * again.elements);
                List<Op> inner = new ArrayList<>(tape.subList(at, tape.size()));
                tape.subList(at, tape.size()).clear();
                replay(inner);
                free(again);
                if (x.requiresGrad && !x.hasGrad) { // the input's gradient is added into x's while `in` still lives
                    x.hasGrad = true;
                    allocate(4 * x.elements);
                }
                in.holders--;
                free(in);
            };
            return y;
        }

        /** Releases what an op held that no other op holds, and its saved arrays. */
        private void release(Op op) {
            for (long s : op.saved) {
                release(4 * s);
            }
            for (Value v : op.holds) {
                v.holders--;
                if (v.holders == 0) {
                    free(v);
                }
            }
        }

        /** Backward over {@code ops}, last first: gradients allocated as written, arrays freed once their last op ran. */
        private void replay(List<Op> ops) {
            for (int i = ops.size() - 1; i >= 0; i--) {
                Op op = ops.get(i);
                if (op.recompute != null) {
                    op.recompute.run();
                }
                for (Value v : op.inputs) {
                    if (v.requiresGrad && !v.hasGrad) {
                        v.hasGrad = true;
                        allocate(4 * v.elements);
                    }
                }
                long scratch = 0;
                for (long s : op.backwardScratch) {
                    allocate(4 * s);
                    scratch += s;
                }
                flops += op.backwardFlops;
                for (long s : op.backwardScratch) {
                    release(4 * s);
                }
                release(op);
            }
        }

        Estimate estimate() {
            Statics statics = statics();
            int hidden = config.hiddenSize();
            Value x = op(List.of(), fullTraining() || statics.savedEmbedding, n * hidden, of(), of(), 0, 0);
            if (features.embeddingScale()) {
                x = elementwise(List.of(x), x.elements, 1);
            }
            for (int layer = 0; layer < config.numHiddenLayers(); layer++) {
                Value in = x;
                x = run.checkpointing() ? checkpointedLayer(x, layer) : layer(x, layer);
                dropIfUnheld(in);
            }
            x = norm(x, hidden);
            String head = model.shapes().containsKey(Architecture.LM_HEAD) ? "lm_head" : null;
            long vocab = head != null ? layerWidth(head) : model.shape(Architecture.EMBED)[0];
            // the head fused with the log-probabilities (autograd.LogProbs) keeps no logits: each row's log-sum-exp and
            // log-probability, and with a frozen head each row's d lp / d hidden (computed in forward, one more
            // product); a trained head recomputes its chunks of logits in backward (forward, dx and dW products)
            boolean trained = fullTraining() || (head != null ? run.lora() != null && run.lora().savesModule(head)
                    : statics.savedEmbedding);
            double product = 2.0 * n * hidden * vocab;
            boolean inputGradient = !trained && x.requiresGrad;
            long chunk = Math.min(n, LogProbs.CHUNK_ROWS) * vocab;
            Value logProbs = op(List.of(x), trained, n, inputGradient ? of(n, n * hidden) : of(n),
                    trained ? of(chunk) : of(), inputGradient ? 2 * product : product,
                    trained ? 3 * product : 2.0 * n * hidden);
            Value loss = op(List.of(logProbs), false, 1, of(), of(), 2.0 * n, 2.0 * n);
            long activations = liveBytes;
            loss.hasGrad = true;
            replay(new ArrayList<>(tape));
            tape.clear();
            long scratchBytes = scratchBytes();
            long scratchHeap = scratchHeap();
            long heap = statics.heap + peakHeap + scratchHeap;
            return new Estimate(run, statics.trainable, statics.weights, statics.nf4, statics.gradients,
                    statics.optimizer, statics.reference, activations, peakBytes - activations, scratchBytes,
                    heap, region, model.checkpointBytes(), flops);
        }

        /** The per-thread arrays the kernels keep: attention's P and dS blocks and transposes, GEMM and NF4 tiles. */
        private long scratchBytes() {
            long seq = run.seq();
            long perThread = 2 * seq * seq + 2 * seq * config.headDim() + 64 * n;
            if (run.method().nf4Base()) {
                perThread += 2 * 8192;
            }
            return 4 * perThread * run.threads();
        }

        private long scratchHeap() {
            long seq = run.seq();
            long perThread = 2 * footprint(4 * seq * seq, region) + 2 * footprint(4 * seq * config.headDim(), region)
                    + footprint(4 * 64 * n, region) + (run.method().nf4Base() ? 2 * footprint(4 * 8192, region) : 0);
            return perThread * run.threads();
        }

        /** What exists before the first forward and stays: weights, gradients, AdamW moments, the reference copy. */
        private record Statics(long trainable, long weights, long nf4, long gradients, long optimizer, long reference,
                               long heap, boolean savedEmbedding) {
        }

        private Statics statics() {
            LoraConfig lora = run.lora();
            List<String> linears = model.decoderLinears();
            Map<String, Boolean> quantised = new HashMap<>();
            Map<String, Boolean> saved = new HashMap<>();
            if (lora != null) {
                for (String name : model.shapes().keySet()) {
                    if (name.endsWith(".weight") && lora.savesModule(name.substring(0, name.length() - 7))) {
                        saved.put(name, true);
                    }
                }
                if (run.method().nf4Base()) {
                    for (String m : linears) {
                        if (!saved.containsKey(m + ".weight")) {
                            quantised.put(m + ".weight", true);
                        }
                    }
                }
            }
            long trainable = 0;
            long weights = 0;
            long nf4 = 0;
            long heap = 0;
            long trainableHeap = 0;
            long referenceBytes = 0;
            long referenceHeap = 0;
            for (String name : model.shapes().keySet()) {
                long numel = model.numel(name);
                if (quantised.containsKey(name)) {
                    long blocks = (numel + Nf4Weight.BLOCK - 1) / Nf4Weight.BLOCK;
                    long scaleBlocks = (blocks + Nf4Weight.SCALE_BLOCK - 1) / Nf4Weight.SCALE_BLOCK;
                    long packed = (numel + 1) / 2;
                    nf4 += packed + blocks + 4 * scaleBlocks + 4; // and the scales' float32 offset
                    heap += footprint(packed, region) + footprint(blocks, region) + footprint(4 * scaleBlocks, region);
                    continue;
                }
                weights += 4 * numel;
                heap += footprint(4 * numel, region);
                if (fullTraining() || saved.containsKey(name)) {
                    trainable += numel;
                    trainableHeap += footprint(4 * numel, region);
                }
                if (run.referenceCopy()) {
                    referenceBytes += 4 * numel;
                    referenceHeap += footprint(4 * numel, region);
                }
            }
            if (lora != null) {
                for (String m : linears) {
                    if (!lora.targets(m)) {
                        continue;
                    }
                    long[] s = model.shape(m + ".weight");
                    int r = lora.rank(m);
                    long[] parts = run.method().dora() ? new long[]{r * s[1], s[0] * r, s[0]} : new long[]{r * s[1], s[0] * r};
                    for (long p : parts) {
                        trainable += p;
                        weights += 4 * p;
                        heap += footprint(4 * p, region);
                        trainableHeap += footprint(4 * p, region);
                    }
                }
            }
            // each Parameter allocates its gradient when created; AdamW its two moments at the first step
            heap += 3 * trainableHeap + referenceHeap;
            boolean savedEmbedding = saved.containsKey(Architecture.EMBED);
            return new Statics(trainable, weights, nf4, 4 * trainable, 8 * trainable, referenceBytes, heap, savedEmbedding);
        }
    }
}
