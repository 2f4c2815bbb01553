package dev.crucible.train;

import dev.crucible.io.ModelDirectory;
import dev.crucible.merge.SyntheticModels;

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
 * line per method. With a preference method, {@code batch} pairs whose prompt, chosen and rejected are random tokens
 * (prompt and each completion half of {@code seq}): tokens per second counts chosen and rejected sequences, and the
 * reference runs every step or is precomputed before the first (outside the timed steps).
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
    public void run(Path modelDir, Shape s, Trainer.Method method, int batch, int seq, int warmup, int steps,
                    boolean checkpointing, Path scratch) {
        run(modelDir, s, method, batch, seq, warmup, steps, checkpointing, scratch, null);
    }

    /** As above; {@code preference} non-null trains that method on {@code batch} random pairs instead. */
    public void run(Path modelDir, Shape s, Trainer.Method method, int batch, int seq, int warmup, int steps,
                    boolean checkpointing, Path scratch, PreferenceObjective.Config preference) {
        Random r = new Random(2);
        List<SftObjective.Example> data = new ArrayList<>();
        List<PreferenceExample> pairs = new ArrayList<>();
        for (int i = 0; i < batch; i++) {
            int[] ids = randomIds(r, seq, s.vocab());
            data.add(new SftObjective.Example(ids, ids.clone()));
            int[] rejected = ids.clone();
            System.arraycopy(randomIds(r, seq - seq / 2, s.vocab()), 0, rejected, seq / 2, seq - seq / 2);
            pairs.add(new PreferenceExample.Pair(new PreferenceExample.Sequence(ids, seq / 2),
                    new PreferenceExample.Sequence(rejected, seq / 2)));
        }
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            pool.resetPeakUsage();
        }
        Trainer.Settings settings = new Trainer.Settings(method, method == Trainer.Method.FULL ? null
                : new Trainer.Lora(16, 32, 0, List.of("all-linear"), false),
                Trainer.Optimizer.of(1e-4, "constant", 0, 0.0, 1.0), batch, 1, seq, false, warmup + steps,
                checkpointing, 1, 0, 0, 1, 0);
        List<Double> rates = new ArrayList<>();
        long frozenBytes;
        int trainable;
        Trainer.Listener listener = m -> {
            if (m.step() > warmup) {
                rates.add(m.tokensPerSecond());
            }
        };
        Path runDir = scratch.resolve(method.name().toLowerCase());
        if (preference == null) {
            try (var trainer = Trainer.sft(modelDir, settings)) {
                frozenBytes = trainer.frozenBaseBytes();
                trainable = trainer.parameters().stream().mapToInt(p -> p.size()).sum();
                trainer.train(data, List.of(), runDir, listener);
            }
        } else {
            try (var trainer = Trainer.preference(ModelDirectory.open(modelDir), settings, preference)) {
                frozenBytes = trainer.frozenBaseBytes();
                trainable = trainer.parameters().stream().mapToInt(p -> p.size()).sum();
                trainer.train(pairs, List.of(), runDir, listener);
            }
        }
        long peak = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                peak += pool.getPeakUsage().getUsed();
            }
        }
        double mean = rates.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
        out.printf(java.util.Locale.ROOT,
                "{\"bench\": \"%s\", \"shape\": \"%s\", \"method\": \"%s\", \"batch\": %d, \"seq\": %d, "
                        + "\"gradient_checkpointing\": %b,%s \"tokens_per_second\": %.1f, \"trainable_parameters\": %d, "
                        + "\"frozen_base_bytes\": %d, \"peak_heap_bytes\": %d, \"threads\": %d}%n",
                preference == null ? "sft" : preference.method().configName(), s.name(), method.name().toLowerCase(),
                batch, seq, checkpointing, preference == null || !preference.method().usesReference() ? ""
                        : " \"reference\": \"" + (preference.precomputeReference() ? "precomputed" : "every step") + "\",",
                mean, trainable, frozenBytes, peak, Runtime.getRuntime().availableProcessors());
    }

    private static int[] randomIds(Random r, int n, int vocab) {
        int[] ids = new int[n];
        for (int t = 0; t < n; t++) {
            ids[t] = r.nextInt(vocab);
        }
        return ids;
    }
}
