package dev.crucible.train;

import dev.crucible.data.PackedSequence;
import dev.crucible.io.ModelDirectory;
import dev.crucible.io.StagedDirectory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * How fast this machine trains a model with one method: a few real steps of {@link Trainer} on random token ids, the
 * fastest after the first taken, turned into floating-point operations per second with {@link MemoryPlan}'s count of the step's
 * work. A run of another batch or length is then expected at that rate: its tokens per second are its tokens over its
 * FLOPs divided by the rate (attention's quadratic part and checkpointing's second forward are in the count).
 */
public final class Calibration {
    /** Calibration steps: the first warms the JIT and the allocator up, the fastest of the others is taken. */
    public static final int STEPS = 4;

    private Calibration() {
    }

    /** What one calibration measured: the run it timed and the rate of its fastest step. */
    public record Rate(MemoryPlan.Estimate calibrated, double seconds, double flopsPerSecond) {
        /** Expected tokens per second of {@code run}'s estimate at this rate. */
        public double tokensPerSecond(MemoryPlan.Estimate run) {
            return run.run().tokens() * flopsPerSecond / run.flopsPerStep();
        }
    }

    /**
     * Trains {@link #STEPS} steps of {@code rows} random sequences of {@code seq} tokens with {@code method} (adapter
     * settings {@code lora}, null for full fine-tuning) and returns the rate of the fastest after the first. Nothing is written but a
     * temporary directory, removed before returning: the steps stop before the trainer saves its final model.
     */
    public static Rate measure(ModelDirectory base, MemoryPlan.Model model, Trainer.Method method, Trainer.Lora lora,
                               int rows, int seq) {
        Trainer.Settings settings = settings(method, lora, rows, seq);
        int vocab = model.config().vocabSize();
        Random random = new Random(0);
        List<PackedSequence> data = new ArrayList<>();
        for (int i = 0; i < rows; i++) {
            int[] ids = random.ints(seq, 0, vocab).toArray();
            data.add(PackedSequence.of(ids, ids.clone()));
        }
        double[] seconds = {Double.POSITIVE_INFINITY};
        Path tmp;
        try {
            tmp = Files.createTempDirectory("crucible-calibration-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try (StagedDirectory scratch = StagedDirectory.create(tmp.resolve("run"));
             var trainer = Trainer.sft(base, settings)) {
            trainer.train(data, List.of(), scratch.path(), m -> {
                if (m.step() > 1) {
                    seconds[0] = Math.min(seconds[0], m.tokens() / m.tokensPerSecond());
                }
                if (m.step() == STEPS) {
                    // the rate is known: stopping here skips writing the final model (a whole model's worth)
                    throw new Stop();
                }
            });
        } catch (Stop done) {
            // the timed steps ran
        } finally {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // an empty temporary directory left behind is harmless
            }
        }
        MemoryPlan.Estimate calibrated = estimate(model, method, lora, rows, seq);
        return new Rate(calibrated, seconds[0], calibrated.flopsPerStep() / seconds[0]);
    }

    /** What the calibration itself needs: its heap must fit this JVM's before {@link #measure} is called. */
    public static MemoryPlan.Estimate estimate(MemoryPlan.Model model, Trainer.Method method, Trainer.Lora lora, int rows,
                                               int seq) {
        return MemoryPlan.estimate(model, MemoryPlan.Run.of(settings(method, lora, rows, seq), null, rows, seq,
                Runtime.getRuntime().availableProcessors()));
    }

    private static Trainer.Settings settings(Trainer.Method method, Trainer.Lora lora, int rows, int seq) {
        return new Trainer.Settings(method, lora, Trainer.Optimizer.of(1e-5, "constant", 0, 0, 1), rows, 1, seq, true,
                STEPS, false, 0, 0, 0, 1, 0);
    }

    /** Ends the calibration's training loop after the timed step. */
    private static final class Stop extends RuntimeException {
        Stop() {
            super(null, null, false, false);
        }
    }
}
