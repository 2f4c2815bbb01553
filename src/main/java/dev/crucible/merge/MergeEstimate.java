package dev.crucible.merge;

import dev.crucible.tensor.DType;
import dev.crucible.tensor.Shape;
import dev.crucible.tensor.Tensor;

import java.util.Comparator;
import java.util.Locale;

/**
 * What a merge will cost before it runs ({@code crucible merge --dry-run}): the peak bytes of tensors in flight and
 * the expected wall time. The time is calibrated on the user's own inputs: the configured method merges the
 * largest output tensor (into heap memory, nothing written) a few times within about a second, and the best rate in
 * input bytes per second is scaled to every byte the merge reads and to the threads that can run at once.
 *
 * @param peakBytes    working memory of the tensors in flight at once (the budget, or the largest tensor when larger)
 * @param seconds      expected wall time of the tensor work (planning, JVM start and publishing excluded)
 * @param bytesPerSec  input bytes merged per second on one thread, measured on {@code tensor}
 * @param tensor       the calibration tensor's name and shape
 * @param runs         how many calibration merges were timed (the best one counts)
 * @param parallel     threads that run at once: the merge's threads, at most the cores
 */
public record MergeEstimate(long peakBytes, double seconds, double bytesPerSec, String tensor, int runs, int parallel) {
    /** Calibration stops after this much time once one run is done, and after {@link #MAX_RUNS} runs. */
    private static final long CALIBRATION_NANOS = 1_000_000_000L;
    private static final int MAX_RUNS = 3;

    /** Estimates {@code plan} run with {@code options}; merges one tensor a few times and writes nothing. */
    public static MergeEstimate of(MergePlan plan, MergeOptions options) {
        long peak = peakBytes(plan, options.memoryBudget());
        MergePlan.Entry largest = plan.entries().stream().max(Comparator.comparingLong(MergePlan.Entry::numel))
                .orElseThrow();
        MergeExecutor executor = new MergeExecutor(plan, 1, options.memoryBudget(), options.seed());
        DType outDType = plan.config().outDtype;
        long best = Long.MAX_VALUE;
        int runs = 0;
        long started = System.nanoTime();
        do {
            long t0 = System.nanoTime();
            Tensor out = executor.compute(largest);
            if (outDType != null && out.dtype() != outDType) {
                out.to(outDType);
            }
            best = Math.min(best, System.nanoTime() - t0);
            // Drop the input pages again so that every run reads them as the real merge does.
            executor.release(largest);
            runs++;
        } while (runs < MAX_RUNS && System.nanoTime() - started < CALIBRATION_NANOS);
        long read = 0;
        for (MergePlan.Input in : largest.inputs()) {
            read += plan.models().get(in.model()).bytes(in.tensor());
        }
        double rate = read / (Math.max(best, 1) / 1e9);
        int parallel = Math.max(1, Math.min(options.threads(), Runtime.getRuntime().availableProcessors()));
        double seconds = plan.bytesToRead() / rate / parallel;
        return new MergeEstimate(peak, seconds, rate, largest.name() + Shape.toString(largest.shape()), runs, parallel);
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
        return String.format(Locale.ROOT, "expected wall time: ~%s s (%s at %.0f MB/s of input per thread on this "
                        + "machine, best of %d on %s, %d thread%s at once; JVM start and publishing not included)",
                seconds >= 10 ? String.format(Locale.ROOT, "%.0f", seconds) : String.format(Locale.ROOT, "%.2g", seconds),
                method, bytesPerSec / 1e6, runs, tensor, parallel, parallel == 1 ? "" : "s");
    }
}
