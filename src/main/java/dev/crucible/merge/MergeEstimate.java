package dev.crucible.merge;

import dev.crucible.tensor.Shape;
import dev.crucible.tensor.Tensor;

import java.util.Comparator;
import java.util.Locale;

/**
 * What a merge will cost before it runs ({@code crucible merge --dry-run}): the peak bytes of tensors in flight and
 * the expected wall time. The time is calibrated on the user's own inputs: the configured method merges the
 * a layer tensor of about a million entries (into heap memory; nothing is written) several times within about a
 * second, with its input pages dropped between runs so that each run reads them as the real merge does; the best
 * rate, in input bytes per second, is scaled to every byte the merge reads and to the threads that can run at once,
 * and reading the config and planning are charged what they took in this very run. Not included, because a dry run
 * cannot time them without writing: writing the output into the page cache, and the JVM's own start.
 *
 * @param peakBytes    working memory of the tensors in flight at once (the budget, or the largest tensor when larger)
 * @param seconds      expected wall time of the command after the JVM has started
 * @param startSeconds reading the config and planning, as measured in this run
 * @param bytesPerSec  input bytes merged per second on one thread, measured on {@code tensor}
 * @param tensor       the calibration tensor's name and shape
 * @param runs         how many calibration merges were timed (the best one counts)
 * @param parallel     threads that run at once: the merge's threads, at most the cores
 */
public record MergeEstimate(long peakBytes, double seconds, double startSeconds, double bytesPerSec, String tensor,
                            int runs, int parallel) {
    /** Calibration stops after this much time once {@link #MIN_RUNS} runs are done, and after {@link #MAX_RUNS}. */
    private static final long CALIBRATION_NANOS = 1_000_000_000L;
    private static final int MIN_RUNS = 2;
    private static final int MAX_RUNS = 20;
    private static final double SAMPLE_NUMEL = 1 << 20;

    /**
     * Estimates {@code plan} run with {@code options}; merges one tensor a few times and writes nothing.
     *
     * @param startSeconds what the command took so far (reading the config, planning)
     */
    public static MergeEstimate of(MergePlan plan, MergeOptions options, double startSeconds) {
        // A layer tensor near a million entries: large enough to be typical, small enough that several runs fit in
        // the second, so that the best one has the JIT-compiled method (the first run of a tensor is interpreted).
        MergePlan.Entry sample = plan.entries().stream()
                .min(Comparator.comparing((MergePlan.Entry e) -> e.layer() < 0)
                        .thenComparingDouble(e -> Math.abs(Math.log(e.numel()) - Math.log(SAMPLE_NUMEL))))
                .orElseThrow();
        MergeExecutor executor = new MergeExecutor(plan, 1, options.memoryBudget(), options.seed());
        long best = Long.MAX_VALUE;
        int runs = 0;
        long started = System.nanoTime();
        do {
            long t0 = System.nanoTime();
            Tensor out = executor.compute(sample);
            // Drop the input pages again so that every run reads them as the real merge does.
            executor.release(sample);
            if (plan.config().outDtype != null && out.dtype() != plan.config().outDtype) {
                out.to(plan.config().outDtype);
            }
            best = Math.min(best, System.nanoTime() - t0);
            runs++;
        } while (runs < MIN_RUNS || (runs < MAX_RUNS && System.nanoTime() - started < CALIBRATION_NANOS));
        long read = 0;
        for (MergePlan.Input in : sample.inputs()) {
            read += plan.models().get(in.model()).bytes(in.tensor());
        }
        double rate = read / (Math.max(best, 1) / 1e9);
        int parallel = Math.max(1, Math.min(options.threads(), Runtime.getRuntime().availableProcessors()));
        double seconds = startSeconds + plan.bytesToRead() / rate / parallel;
        return new MergeEstimate(peakBytes(plan, options.memoryBudget()), seconds, startSeconds, rate,
                sample.name() + Shape.toString(sample.shape()), runs, parallel);
    }

    /** Peak working set: the budget, or the largest single tensor when it exceeds the budget. */
    static long peakBytes(MergePlan plan, long budget) {
        long largest = 0;
        long sum = 0;
        for (MergePlan.Entry e : plan.entries()) {
            long cost = Math.min(budget, MergeExecutor.estimateBytes(plan, e));
            largest = Math.max(largest, cost);
            sum += cost;
        }
        return Math.max(largest, Math.min(budget, sum));
    }

    /** One line saying how long the merge should take and what that figure rests on. */
    public String describe(String method) {
        return String.format(Locale.ROOT, "expected wall time: ~%s s (planning %.1f s; %s at %s MB/s of input per "
                        + "thread on this machine, best of %d on %s; %d thread%s at once; writing the output and the "
                        + "JVM's start not included)", round(seconds), startSeconds, method, round(bytesPerSec / 1e6),
                runs, tensor,
                parallel, parallel == 1 ? "" : "s");
    }

    /** Two significant digits below 10, whole numbers above. */
    private static String round(double x) {
        return String.format(Locale.ROOT, x >= 10 ? "%.0f" : "%.2g", x);
    }
}
