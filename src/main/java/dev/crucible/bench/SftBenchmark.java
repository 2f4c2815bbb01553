package dev.crucible.bench;

import dev.crucible.merge.SyntheticModels;
import dev.crucible.train.SftTrainer;

import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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

    /** Writes a tied-embedding Llama of this shape with random bf16 weights ({@link SyntheticModels#writeTied}). */
    public static void writeRandomModel(Path dir, Shape s) {
        SyntheticModels.writeTied(dir, new SyntheticModels.Shape(s.hidden(), s.intermediate(), s.layers(), s.heads(),
                s.kvHeads(), s.vocab()), Runtime.getRuntime().availableProcessors());
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
        SftTrainer.Settings settings = new SftTrainer.Settings(method, method == SftTrainer.Method.FULL ? null
                : new SftTrainer.Lora(16, 32, 0, List.of("all-linear"), false),
                SftTrainer.Optimizer.of(1e-4, "constant", 0, 0.0, 1.0), batch, 1, seq, false, warmup + steps,
                checkpointing, 1, 0, 0, 1, 0);
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
