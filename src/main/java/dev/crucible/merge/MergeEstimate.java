package dev.crucible.merge;

import dev.crucible.CrucibleException;
import dev.crucible.Failures;
import dev.crucible.ProgressBar;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.FileRegion;
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
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * What a merge will cost before it runs ({@code crucible merge --dry-run}): the peak bytes of tensors in flight and
 * the expected wall time. The time is calibrated on the user's own inputs: the configured method merges a layer tensor
 * of about a million entries, then the largest layer tensor (into heap memory; nothing is written), on as many threads
 * at once as the merge will run, each until its rate settles, with its input pages dropped from the process between
 * runs so that each run reads them as the real merge does; every tensor is charged its bytes at the best rate of the
 * calibrated size nearest its own, plus once what the first calibration's runs before its best took beyond it (the
 * real run starts as cold). Input bytes the page cache does not hold are charged apart, at the rate a probe read some
 * of them from disk (the calibration re-reads its own tensors from the cache). Writing is charged at the rate of a
 * short probe: 32 MiB written (and forced to disk when the merge will force its shards) to a temporary file in the
 * output's directory, or the nearest one that exists, then deleted. The launcher's work, the JVM's start, reading the
 * config and planning are charged what they took for this very process.
 *
 * @param peakBytes    working memory: the buffers the merge's threads keep, each grown to one of the largest tensors
 * @param seconds      expected wall time of the command, the JVM's start included
 * @param startSeconds the JVM's start, reading the config and planning, as measured in this run
 * @param warmUpSeconds what the first calibration's runs before its best took beyond it (JIT, fresh buffers)
 * @param writeSeconds writing the output at the probe's rate (NaN when the directory could not be probed)
 * @param bytesPerSec  input bytes merged per second by {@code parallel} threads at once, measured on {@code tensor}
 * @param tensor       the calibration tensor's name and shape
 * @param runs         how many calibration merges of {@code tensor} were timed (the best one counts)
 * @param largeBytesPerSec the same rate on {@code largeTensor} (NaN when the sample is the largest layer tensor)
 * @param largeTensor  the largest layer tensor's name and shape
 * @param parallel     threads that run at once: the merge's threads, at most the cores
 * @param uncachedBytes input bytes not in the page cache (read from disk by the real run)
 * @param readBytesPerSec the rate a probe read uncached input bytes at (NaN when every input byte is cached)
 */
public record MergeEstimate(long peakBytes, double seconds, double startSeconds, double warmUpSeconds,
                            double writeSeconds, double bytesPerSec, String tensor, int runs, double largeBytesPerSec,
                            String largeTensor, int parallel, long uncachedBytes, double readBytesPerSec) {
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
    /** Slices in which the page cache is asked for the inputs, and how many of them the disk probe reads. */
    private static final long PAGE_SLICE = 1 << 20;
    private static final long READ_PROBE_SLICES = 64;

    /**
     * Estimates {@code plan} run with {@code options}; merges one tensor a few times and writes nothing.
     *
     * @param startSeconds what the command took so far (reading the config, planning)
     * @param outDir       the output directory the merge would write (it need not exist)
     */
    public static MergeEstimate of(MergePlan plan, MergeOptions options, double startSeconds, Path outDir) {
        // the launcher's work and the JVM's start (before the command's own clock began), which the real run pays again
        double uptime = ManagementFactory.getRuntimeMXBean().getUptime() / 1e3;
        double jvmStart = Math.max(0, uptime - startSeconds) + launcherSeconds(uptime);
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
        // The inputs' pages not in the page cache come from disk in the real run; the calibration below re-reads
        // its own tensors from the cache, so they are charged apart, at a rate measured on some of them.
        UncachedInputs uncached = UncachedInputs.probe(plan);
        MergeExecutor executor = new MergeExecutor(plan, 1, options.memoryBudget(), options.seed());
        int parallel = Math.max(1, Math.min(options.threads(), Runtime.getRuntime().availableProcessors()));
        // Calibrated as the merge runs, on as many threads at once: they share the memory bus and the cores with
        // whatever else this machine runs, which one thread's rate times the threads left out (cheap methods' real
        // runs took 1.4-2.3x that estimate on a busy 2-core machine).
        ExecutorService pool = Executors.newFixedThreadPool(parallel, r -> {
            Thread t = new Thread(r, "merge-calibration");
            t.setDaemon(true);
            return t;
        });
        Calibration small;
        Calibration big;
        try {
            // The small sample first: its runs are short enough that the JIT's compiled code arrives within the
            // calibration's time, after which the large tensor is timed on compiled code (the other way round, a
            // 2-thread ties calibration of 4096x1024 ran out of time half-interpreted and expected 1.5x the real run).
            small = calibrate(plan, executor, sample, pool, parallel);
            big = large.numel() > sample.numel() ? calibrate(plan, executor, large, pool, parallel) : small;
            if (big != small && small.runs() < MIN_RUNS + SETTLED_RUNS) {
                // The sample ran out of time before its code was compiled (ties: 2 interpreted runs, a third of the
                // rate); the large tensor's runs have compiled it since, so it is timed again, its warm-up kept.
                Calibration again = calibrate(plan, executor, sample, pool, parallel);
                small = new Calibration(Math.max(small.bytesPerSec(), again.bytesPerSec()), small.warmUpSeconds(),
                        small.runs() + again.runs());
            }
        } finally {
            pool.shutdownNow();
        }
        // Each tensor at the rate of the calibrated size nearest to its own (in log n).
        double mergeSeconds = 0;
        for (MergePlan.Entry e : plan.entries()) {
            Calibration c = Math.abs(Math.log(e.numel()) - Math.log(sample.numel()))
                    <= Math.abs(Math.log(e.numel()) - Math.log(large.numel())) ? small : big;
            mergeSeconds += readBytes(plan, e) / c.bytesPerSec();
        }
        // The real run starts cold as the calibration did: its threads run the method interpreted and touch fresh
        // buffers at once, so what the calibration lost before it settled is paid once in wall time.
        double warmUpSeconds = small.warmUpSeconds();
        DType outDType = plan.config().outDtype != null ? plan.config().outDtype : plan.computeDType();
        long write = 0;
        for (MergePlan.Entry e : plan.entries()) {
            write += e.numel() * outDType.byteSize();
        }
        // the workers write their tensors in parallel
        double writeSeconds = write / writeRate(outDir, options.fsync()) / parallel;
        // One disk serves every thread, and while one thread waits for it the others merge: the longer of the two,
        // plus the shorter one's share of a thread (added up, the estimate of a cold linear merge was 1.4x the real
        // run at load 2.5; the longer one alone would have been 0.8x of it at load 4.5: docs/BENCHMARKS.md).
        double reading = uncached.seconds();
        double seconds = jvmStart + startSeconds + warmUpSeconds + Math.max(reading, mergeSeconds)
                + Math.min(reading, mergeSeconds) / parallel
                + (Double.isNaN(writeSeconds) ? 0 : writeSeconds);
        return new MergeEstimate(peakBytes(plan, options.threads()), seconds, jvmStart + startSeconds, warmUpSeconds,
                writeSeconds, small.bytesPerSec(), sample.name() + Shape.toString(sample.shape()), small.runs(),
                big == small ? Double.NaN : big.bytesPerSec(), large.name() + Shape.toString(large.shape()),
                parallel, uncached.bytes(), uncached.bytesPerSec());
    }

    /**
     * Input bytes the page cache does not hold (asked slice by slice with mincore, which reads nothing), and the rate
     * this machine reads them at: the uncached ones among {@link #READ_PROBE_SLICES} slices spread over the inputs,
     * read as the merge reads (positional reads), timed. What the probe read is cached afterwards and not counted
     * again. The rate is NaN when no slice read was uncached (then the bytes are not charged).
     */
    private record UncachedInputs(long bytes, double bytesPerSec) {
        double seconds() {
            return bytes == 0 || Double.isNaN(bytesPerSec) ? 0 : bytes / bytesPerSec;
        }

        static UncachedInputs probe(MergePlan plan) {
            List<MergePlan.Input> order = new ArrayList<>();
            plan.entries().stream().sorted(Comparator.comparingLong(MergePlan.Entry::numel).reversed())
                    .forEach(e -> order.addAll(e.inputs()));
            long uncached = 0;
            for (MergePlan.Input in : order) {
                uncached += plan.models().get(in.model()).uncachedBytes(in.tensor(), PAGE_SLICE);
            }
            if (uncached == 0) {
                return new UncachedInputs(0, Double.NaN);
            }
            // Slices spread evenly over all the input bytes, so that what happens to be cached nearby (the host's
            // cache under a virtual disk served the first 64 MiB of an input at 4.4 GB/s, the rest at 0.5) does not
            // stand for the whole.
            long total = 0;
            for (MergePlan.Input in : order) {
                total += plan.models().get(in.model()).bytes(in.tensor());
            }
            long stride = Math.max(PAGE_SLICE, total / READ_PROBE_SLICES);
            ByteBuffer buffer = ByteBuffer.allocateDirect((int) PAGE_SLICE);
            long probed = 0;
            long nanos = 0;
            long next = 0;
            long at = 0;
            for (MergePlan.Input in : order) {
                InputModel model = plan.models().get(in.model());
                long size = model.bytes(in.tensor());
                for (; next < at + size; next += stride) {
                    long offset = next - at;
                    long length = Math.min(PAGE_SLICE, size - offset);
                    long cold = model.uncachedBytes(in.tensor(), offset, length, PAGE_SLICE);
                    if (cold > 0) {
                        long t0 = System.nanoTime();
                        read(model.region(in.tensor()), offset, length, buffer);
                        nanos += System.nanoTime() - t0;
                        probed += cold;
                    }
                }
                at += size;
            }
            return probed == 0 ? new UncachedInputs(uncached, Double.NaN)
                    : new UncachedInputs(Math.max(0, uncached - probed), probed / (Math.max(nanos, 1) / 1e9));
        }

        private static void read(FileRegion region, long offset, long length, ByteBuffer buffer) {
            try {
                for (long done = 0; done < length; ) {
                    buffer.clear().limit((int) Math.min(buffer.capacity(), length - done));
                    int n = region.channel().read(buffer, region.position() + offset + done);
                    if (n < 0) {
                        return; // a file shorter than its header says: the merge itself will report it
                    }
                    done += n;
                }
            } catch (IOException e) {
                throw new CrucibleException("cannot read an input model's weights: " + e.getMessage(), e);
            }
        }
    }

    /**
     * What the launcher script took before the JVM started: it finds a JDK (running {@code java -version}) and checks
     * the jar against the sources, 0.5-0.8 s on a busy 2-core machine, which the JVM's uptime does not see. The
     * launcher passes the wall-clock second it started at ({@code crucible.launched}, bash's
     * {@code EPOCHREALTIME}); 0 without it (a JVM started some other way). The process's own start time is no
     * substitute: on this project's virtual machine it gave more than the dry run's whole wall time.
     */
    private static double launcherSeconds(double uptime) {
        String launched = System.getProperty("crucible.launched", "");
        try {
            double since = System.currentTimeMillis() / 1e3 - Double.parseDouble(launched.replace(',', '.'));
            return since > uptime && since < uptime + 60 ? since - uptime : 0;
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /**
     * A tensor's best merge rate in input bytes per second, and what the runs before the best took beyond it: the
     * JIT's compiled code arrives over several runs when the merge's threads and the compiler share the cores (a
     * real 2-thread merge ran 2 s slower cold than warm in one JVM, where the first calibration run's excess was 0.3 s).
     */
    private record Calibration(double bytesPerSec, double warmUpSeconds, int runs) {
    }

    /**
     * Merges {@code entry} until the rate settles: at least {@link #MIN_RUNS} runs, then stops after
     * {@link #CALIBRATION_NANOS} once {@link #SETTLED_RUNS} runs in a row did not beat the best by 5%, after
     * {@link #WARM_NANOS} in any case, or after {@link #MAX_RUNS}. A fixed count of runs left an expensive method
     * partly interpreted (five runs of dare_ties measured half the rate of another dry run a few minutes later).
     */
    private static Calibration calibrate(MergePlan plan, MergeExecutor executor, MergePlan.Entry entry,
                                         ExecutorService pool, int parallel) {
        long best = Long.MAX_VALUE;
        long before = 0; // the runs' total before this one
        long warmUp = 0; // what the runs before the best took beyond the best
        int runs = 0;
        int sinceImproved = 0;
        long started = System.nanoTime();
        List<Callable<Void>> copies = Collections.nCopies(parallel, () -> {
            Tensor out = executor.compute(entry);
            // Drop the input pages again so that every run reads them as the real merge does.
            executor.release(entry);
            if (plan.config().outDtype != null && out.dtype() != plan.config().outDtype) {
                out.to(plan.config().outDtype);
            }
            return null;
        });
        while (true) {
            long t0 = System.nanoTime();
            runOnAll(pool, copies);
            long took = System.nanoTime() - t0;
            sinceImproved = took < best * 0.95 ? 0 : sinceImproved + 1;
            if (took < best) {
                best = took;
                warmUp = before - runs * took;
            }
            before += took;
            runs++;
            long elapsed = System.nanoTime() - started;
            if (runs >= MAX_RUNS || runs >= MIN_RUNS && (elapsed >= WARM_NANOS
                    || elapsed >= CALIBRATION_NANOS && sinceImproved >= SETTLED_RUNS)) {
                break;
            }
        }
        return new Calibration(parallel * readBytes(plan, entry) / (Math.max(best, 1) / 1e9), warmUp / 1e9, runs);
    }

    /** Runs every task at once on {@code pool} and waits for all; a task's failure is the caller's. */
    private static void runOnAll(ExecutorService pool, List<Callable<Void>> tasks) {
        try {
            for (Future<Void> f : pool.invokeAll(tasks)) {
                f.get();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CrucibleException("merge estimate interrupted");
        } catch (ExecutionException e) {
            throw Failures.unchecked(e.getCause());
        }
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
                        + " input on this machine with %d thread%s at once, best of %d on %s%s; warm-up %.1f s; %s;"
                        + " %s)",
                round(seconds), startSeconds, method, round(bytesPerSec / 1e6), parallel, parallel == 1 ? "" : "s",
                runs, tensor, Double.isNaN(largeBytesPerSec) ? "" : String.format(Locale.ROOT, ", %s MB/s on %s",
                        round(largeBytesPerSec / 1e6), largeTensor),
                warmUpSeconds, uncachedBytes == 0
                        ? "inputs in the page cache"
                        : Double.isNaN(readBytesPerSec) ? String.format(Locale.ROOT, "%s of inputs not in the page"
                        + " cache, not timed", ProgressBar.bytes(uncachedBytes))
                        : String.format(Locale.ROOT, "reading %s of inputs not in the page cache %.1f s at %s MB/s",
                        ProgressBar.bytes(uncachedBytes), uncachedBytes / readBytesPerSec,
                        round(readBytesPerSec / 1e6)), Double.isNaN(writeSeconds)
                        ? "writing not included: the output's directory could not be probed"
                        : String.format(Locale.ROOT, "writing %.1f s at the rate of a probe write there", writeSeconds));
    }

    /** Two significant digits below 10, whole numbers above. */
    private static String round(double x) {
        return String.format(Locale.ROOT, x >= 10 ? "%.0f" : "%.2g", x);
    }
}
