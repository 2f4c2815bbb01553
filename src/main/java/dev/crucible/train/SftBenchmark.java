package dev.crucible.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.io.ShardedWriter;
import dev.crucible.io.TensorSpec;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Tensor;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Training throughput and peak heap of full fine-tuning, LoRA and QLoRA on a Llama-shaped model with random bf16
 * weights (SmolLM2-135M's shape by default): tokens per second of forward + backward + optimiser step, one JSON
 * line per method.
 */
public final class SftBenchmark {
    /** Model dimensions; TINY is the PyTorch anchor script's tiny shape. */
    public record Shape(String name, int hidden, int layers, int heads, int kvHeads, int intermediate, int vocab) {
        public static final Shape SMOLLM_135M = new Shape("smollm-135m", 576, 30, 9, 3, 1536, 49152);
        public static final Shape TINY = new Shape("tiny", 256, 4, 8, 4, 688, 8192);
    }

    private final PrintStream out;

    public SftBenchmark(PrintStream out) {
        this.out = out;
    }

    /** Writes config.json and bf16 weights N(0, 1/sqrt(fan_in)) (norms 1) of a tied-embedding Llama into {@code dir}. */
    public static void writeRandomModel(Path dir, Shape s) throws IOException {
        ObjectNode c = new ObjectMapper().createObjectNode();
        c.putArray("architectures").add("LlamaForCausalLM");
        c.put("model_type", "llama");
        c.put("hidden_size", s.hidden());
        c.put("intermediate_size", s.intermediate());
        c.put("num_hidden_layers", s.layers());
        c.put("num_attention_heads", s.heads());
        c.put("num_key_value_heads", s.kvHeads());
        c.put("vocab_size", s.vocab());
        c.put("rms_norm_eps", 1e-5);
        c.put("rope_theta", 100000.0);
        c.put("tie_word_embeddings", true);
        c.put("torch_dtype", "bfloat16");
        Files.writeString(dir.resolve("config.json"), c.toPrettyString());
        int headDim = s.hidden() / s.heads();
        List<TensorSpec> specs = new ArrayList<>();
        specs.add(new TensorSpec("model.embed_tokens.weight", DType.BF16, new long[]{s.vocab(), s.hidden()}));
        for (int l = 0; l < s.layers(); l++) {
            String p = "model.layers." + l + ".";
            specs.add(new TensorSpec(p + "self_attn.q_proj.weight", DType.BF16, new long[]{(long) s.heads() * headDim, s.hidden()}));
            specs.add(new TensorSpec(p + "self_attn.k_proj.weight", DType.BF16, new long[]{(long) s.kvHeads() * headDim, s.hidden()}));
            specs.add(new TensorSpec(p + "self_attn.v_proj.weight", DType.BF16, new long[]{(long) s.kvHeads() * headDim, s.hidden()}));
            specs.add(new TensorSpec(p + "self_attn.o_proj.weight", DType.BF16, new long[]{s.hidden(), (long) s.heads() * headDim}));
            specs.add(new TensorSpec(p + "mlp.gate_proj.weight", DType.BF16, new long[]{s.intermediate(), s.hidden()}));
            specs.add(new TensorSpec(p + "mlp.up_proj.weight", DType.BF16, new long[]{s.intermediate(), s.hidden()}));
            specs.add(new TensorSpec(p + "mlp.down_proj.weight", DType.BF16, new long[]{s.hidden(), s.intermediate()}));
            specs.add(new TensorSpec(p + "input_layernorm.weight", DType.BF16, new long[]{s.hidden()}));
            specs.add(new TensorSpec(p + "post_attention_layernorm.weight", DType.BF16, new long[]{s.hidden()}));
        }
        specs.add(new TensorSpec("model.norm.weight", DType.BF16, new long[]{s.hidden()}));
        Random r = new Random(1);
        ShardedWriter writer = new ShardedWriter(dir, specs, Long.MAX_VALUE, Map.of("format", "pt"));
        try (writer) {
            for (TensorSpec t : specs) {
                long[] shape = t.shape();
                float[] v = new float[(int) (t.byteSize() / 2)];
                double std = shape.length == 2 ? 1 / Math.sqrt(shape[1]) : 0;
                for (int i = 0; i < v.length; i++) {
                    v[i] = shape.length == 2 ? (float) (r.nextGaussian() * std) : 1f;
                }
                writer.write(t.name(), Tensor.fromFloats(DType.BF16, v, shape));
            }
            writer.finish();
        }
    }

    /** Trains {@code warmup + steps} steps of {@code method} and reports the mean tokens/s of the last {@code steps}. */
    public void run(Path modelDir, Shape s, SftTrainer.Method method, int batch, int seq, int warmup, int steps,
                    boolean checkpointing, Path scratch) {
        Random r = new Random(2);
        List<SftTrainer.Example> data = new ArrayList<>();
        for (int i = 0; i < batch; i++) {
            int[] ids = new int[seq];
            for (int t = 0; t < seq; t++) {
                ids[t] = r.nextInt(s.vocab());
            }
            data.add(new SftTrainer.Example(ids, ids.clone()));
        }
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            pool.resetPeakUsage();
        }
        SftTrainer.Settings settings = new SftTrainer.Settings(method, 16, 32, 0, List.of("all-linear"), false, batch, 1,
                seq, warmup + steps, 1e-4, "constant", 0, 0.0, 1.0, checkpointing, 1, 0, 0);
        List<Double> rates = new ArrayList<>();
        long frozenBytes;
        int trainable;
        try (SftTrainer trainer = new SftTrainer(modelDir, settings)) {
            frozenBytes = trainer.frozenBaseBytes();
            trainable = trainer.parameters().stream().mapToInt(p -> p.size()).sum();
            trainer.train(data, List.of(), scratch.resolve(method.name().toLowerCase()), m -> {
                if (m.step() > warmup) {
                    rates.add(m.tokensPerSecond());
                }
            });
        }
        long peak = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                peak += pool.getPeakUsage().getUsed();
            }
        }
        double mean = rates.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
        out.printf(java.util.Locale.ROOT,
                "{\"bench\": \"sft\", \"shape\": \"%s\", \"method\": \"%s\", \"batch\": %d, \"seq\": %d, "
                        + "\"gradient_checkpointing\": %b, \"tokens_per_second\": %.1f, \"trainable_parameters\": %d, "
                        + "\"frozen_base_bytes\": %d, \"peak_heap_bytes\": %d, \"threads\": %d}%n",
                s.name(), method.name().toLowerCase(), batch, seq, checkpointing, mean, trainable, frozenBytes, peak,
                Runtime.getRuntime().availableProcessors());
    }
}
