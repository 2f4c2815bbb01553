package dev.crucible.merge;

import dev.crucible.tensor.DType;
import dev.crucible.tensor.Shape;
import dev.crucible.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.Locale;

/**
 * What a merge will cost before it runs ({@code crucible merge --dry-run}): the peak bytes of tensors in flight and
 * the expected wall time. The time is calibrated on the user's own inputs: the configured method merges a layer
 * tensor of about a million entries, then the largest layer tensor (into heap memory; nothing is written), each until
 * its rate settles, with its input pages dropped between runs so that each run reads them as the real merge does;
 * every tensor is charged its bytes at the best rate of the calibrated size nearest its own, divided among the
 * threads that can run at once, plus the first run's excess over the best once (the real run starts as cold).
 * Writing is charged at the rate of a short probe: 32 MiB written (and forced to disk when the merge will force its
 * shards) to a temporary file in the output's directory, or the nearest one that exists, then deleted. Reading the
 * config, planning and the JVM's start are charged what they took in this very process.
 *
 * @param peakBytes    working memory: the buffers the merge's threads keep, each grown to one of the largest tensors
 * @param seconds      expected wall time of the command, the JVM's start included
 * @param startSeconds the JVM's start, reading the config and planning, as measured in this run
 * @param warmUpSeconds what the first calibration run took beyond the best one (interpreted code, fresh buffers)
 * @param writeSeconds writing the output at the probe's rate (NaN when the directory could not be probed)
 * @param bytesPerSec  input bytes merged per second on one thread, measured on {@code tensor}
 * @param tensor       the calibration tensor's name and shape
 * @param runs         how many calibration merges of {@code tensor} were timed (the best one counts)
 * @param largeBytesPerSec the same rate on {@code largeTensor} (NaN when the sample is the largest layer tensor)
 * @param largeTensor  the largest layer tensor's name and shape
 * @param parallel     threads that run at once: the merge's threads, at most the cores
 */
public record MergeEstimate(long peakBytes, double seconds, double startSeconds, double warmUpSeconds,
                            double writeSeconds, double bytesPerSec, String tensor, int runs, double largeBytesPerSec,
                            String largeTensor, int parallel) {
    /**
     * Calibration of one tensor (see {@link #calibrate}): its first runs are interpreted, and two of them left an
     * expensive method's estimate 1.6-2.6x too high.
     */
    private static final long CALIBRATION_NANOS = 1_000_000_000L;
    private static final long WARM_NANOS = 3_000_000_000L;
    private static final int MIN_RUNS = 2;
    private static final int SETTLED_RUNS = 3;
    private static final int PROBE_BYTES = 32 << 20;
    private static final int MAX_RUNS = 20;
    private static final double SAMPLE_NUMEL = 1 << 20;

    /**
     * Estimates {@code plan} run with {@code options}; merges one tensor a few times and writes nothing.
     *
     * @param startSeconds what the command took so far (reading the config, planning)
     * @param outDir       the output directory the merge would write (it need not exist)
     */
    public static MergeEstimate of(MergePlan plan, MergeOptions options, double startSeconds, Path outDir) {
        // the JVM's start (before the command's own clock began), which the real run pays again
        double jvmStart = Math.max(0, ManagementFactory.getRuntimeMXBean().getUptime() / 1e3 - startSeconds);
        // A layer tensor near a million entries: large enough to be typical, small enough that several runs fit in
        // the second, so that the best one has the JIT-compiled method (the first run of a tensor is interpreted).
        MergePlan.Entry sample = plan.entries().stream()
                .min(Comparator.comparing((MergePlan.Entry e) -> e.layer() < 0)
                        .thenComparingDouble(e -> Math.abs(Math.log(e.numel()) - Math.log(SAMPLE_NUMEL))))
                .orElseThrow();
        // The largest layer tensor too (an MLP matrix, most of a model's bytes): a method's cost per entry need not
        // be constant (a sort's grows with log n), so the bulk is timed at its own size rather than extrapolated.
        MergePlan.Entry large = plan.entries().stream().filter(e -> e.layer() >= 0)
                .max(Comparator.comparingLong(MergePlan.Entry::numel)).orElse(sample);
        MergeExecutor executor = new MergeExecutor(plan, 1, options.memoryBudget(), options.seed());
        Calibration small = calibrate(plan, executor, sample);
        Calibration big = large.numel() > sample.numel() ? calibrate(plan, executor, large) : small;
        // Each tensor at the rate of the calibrated size nearest to its own (in log n).
        double mergeSeconds = 0;
        for (MergePlan.Entry e : plan.entries()) {
            Calibration c = Math.abs(Math.log(e.numel()) - Math.log(sample.numel()))
                    <= Math.abs(Math.log(e.numel()) - Math.log(large.numel())) ? small : big;
            mergeSeconds += readBytes(plan, e) / c.bytesPerSec();
        }
        int parallel = Math.max(1, Math.min(options.threads(), Runtime.getRuntime().availableProcessors()));
        // The real run starts cold as the calibration did: its threads run the method interpreted and touch fresh
        // buffers at once, so the first calibration run's excess over the best is paid once in wall time.
        double warmUpSeconds = small.warmUpSeconds();
        DType outDType = plan.config().outDtype != null ? plan.config().outDtype : plan.computeDType();
        long write = 0;
        for (MergePlan.Entry e : plan.entries()) {
            write += e.numel() * outDType.byteSize();
        }
        // the workers write their tensors in parallel
        double writeSeconds = write / writeRate(outDir, options.fsync()) / parallel;
        double seconds = jvmStart + startSeconds + warmUpSeconds + mergeSeconds / parallel
                + (Double.isNaN(writeSeconds) ? 0 : writeSeconds);
        return new MergeEstimate(peakBytes(plan, options.threads()), seconds, jvmStart + startSeconds, warmUpSeconds,
                writeSeconds, small.bytesPerSec(), sample.name() + Shape.toString(sample.shape()), small.runs(),
                big == small ? Double.NaN : big.bytesPerSec(), large.name() + Shape.toString(large.shape()),
                parallel);
    }

    /** A tensor's best merge rate in input bytes per second, and what its first (cold) run took beyond the best. */
    private record Calibration(double bytesPerSec, double warmUpSeconds, int runs) {
    }

    /**
     * Merges {@code entry} until the rate settles: at least {@link #MIN_RUNS} runs, then stops after
     * {@link #CALIBRATION_NANOS} once {@link #SETTLED_RUNS} runs in a row did not beat the best by 5%, after
     * {@link #WARM_NANOS} in any case, or after {@link #MAX_RUNS}. A fixed count of runs left an expensive method
     * partly interpreted (five runs of dare_ties measured half the rate of another dry run a few minutes later).
     */
    private static Calibration calibrate(MergePlan plan, MergeExecutor executor, MergePlan.Entry entry) {
        long best = Long.MAX_VALUE;
        long first = 0;
        int runs = 0;
        int sinceImproved = 0;
        long started = System.nanoTime();
        while (true) {
            long t0 = System.nanoTime();
            Tensor out = executor.compute(entry);
            // Drop the input pages again so that every run reads them as the real merge does.
            executor.release(entry);
            if (plan.config().outDtype != null && out.dtype() != plan.config().outDtype) {
                out.to(plan.config().outDtype);
            }
            long took = System.nanoTime() - t0;
            if (runs == 0) {
                first = took;
            }
            sinceImproved = took < best * 0.95 ? 0 : sinceImproved + 1;
            best = Math.min(best, took);
            runs++;
            long elapsed = System.nanoTime() - started;
            if (runs >= MAX_RUNS || runs >= MIN_RUNS && (elapsed >= WARM_NANOS
                    || elapsed >= CALIBRATION_NANOS && sinceImproved >= SETTLED_RUNS)) {
                break;
            }
        }
        return new Calibration(readBytes(plan, entry) / (Math.max(best, 1) / 1e9), (first - best) / 1e9, runs);
    }

    /** Bytes the merge reads for {@code entry}: every input tensor once. */
    private static long readBytes(MergePlan plan, MergePlan.Entry entry) {
        long read = 0;
        for (MergePlan.Input in : entry.inputs()) {
            read += plan.models().get(in.model()).bytes(in.tensor());
        }
        return read;
    }

    /**
     * Peak working set of the merge on {@code threads} threads. Each worker merges one tensor at a time into buffers
     * it reuses for the next (OutputBuffers; a top-k method's 8-byte sort entries are there too), grown to the
     * largest tensor it merged; the executor hands the largest tensors out first, so each thread soon holds one of
     * them: the sum of the {@code threads} largest tensors' working bytes. The in-flight budget only delays tensors
     * that do not fit beside the running ones; it does not shrink the buffers. Not counted: the JVM itself (about
     * 170 MiB resident for a dry run) and resident input pages.
     */
    static long peakBytes(MergePlan plan, int threads) {
        return plan.entries().stream().map(e -> MergeExecutor.estimateBytes(plan, e)).sorted(Comparator.reverseOrder())
                .limit(Math.max(1, threads)).mapToLong(Long::longValue).sum();
    }

    /**
     * Bytes per second written to a temporary file in {@code out}'s directory (or its nearest existing ancestor), best
     * of two 32 MiB writes, forced to disk when {@code force}; NaN when no such directory can be written.
     */
    private static double writeRate(Path out, boolean force) {
        Path dir = out.toAbsolutePath();
        while (dir != null && !Files.isDirectory(dir)) {
            dir = dir.getParent();
        }
        if (dir == null) {
            return Double.NaN;
        }
        Path probe = null;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment bytes = arena.allocate(PROBE_BYTES).fill((byte) 1);
            probe = Files.createTempFile(dir, ".crucible-write-probe-", ".tmp");
            long best = Long.MAX_VALUE;
            for (int run = 0; run < 2; run++) {
                try (FileChannel ch = FileChannel.open(probe, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                    long t0 = System.nanoTime();
                    ByteBuffer buffer = bytes.asByteBuffer();
                    while (buffer.hasRemaining()) {
                        ch.write(buffer);
                    }
                    if (force) {
                        ch.force(false);
                    }
                    best = Math.min(best, System.nanoTime() - t0);
                }
            }
            return PROBE_BYTES / (Math.max(best, 1) / 1e9);
        } catch (IOException e) {
            return Double.NaN; // a read-only directory: the merge itself will say so; the estimate leaves writing out
        } finally {
            if (probe != null) {
                try {
                    Files.deleteIfExists(probe);
                } catch (IOException ignored) {
                    // a probe file left behind is only a hidden temporary file; the estimate still stands
                }
            }
        }
    }

    /** One line saying how long the merge should take and what that figure rests on. */
    public String describe(String method) {
        return String.format(Locale.ROOT, "expected wall time: ~%s s (JVM start and planning %.1f s; %s at %s MB/s of"
                        + " input per thread on this machine, best of %d on %s%s; warm-up %.1f s; %d thread%s at once;"
                        + " %s)",
                round(seconds), startSeconds, method, round(bytesPerSec / 1e6), runs, tensor,
                Double.isNaN(largeBytesPerSec) ? "" : String.format(Locale.ROOT, ", %s MB/s on %s",
                        round(largeBytesPerSec / 1e6), largeTensor),
                warmUpSeconds, parallel, parallel == 1 ? "" : "s", Double.isNaN(writeSeconds)
                        ? "writing not included: the output's directory could not be probed"
                        : String.format(Locale.ROOT, "writing %.1f s at the rate of a probe write there", writeSeconds));
    }

    /** Two significant digits below 10, whole numbers above. */
    private static String round(double x) {
        return String.format(Locale.ROOT, x >= 10 ? "%.0f" : "%.2g", x);
    }
}
