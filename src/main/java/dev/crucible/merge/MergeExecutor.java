package dev.crucible.merge;

import dev.crucible.CrucibleException;
import dev.crucible.Failures;
import dev.crucible.ProgressBar;
import dev.crucible.io.ShardedWriter;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Shape;
import dev.crucible.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongFunction;

/**
 * Streams a {@link MergePlan} through its method on N threads. Each output tensor is computed from memory-mapped
 * inputs and written straight to its declared place in the output shards, then its input pages are dropped from
 * the resident set; a budget of in-flight bytes bounds memory (a tensor larger than the budget runs alone).
 * Every tensor depends only on its inputs, parameters, seed and name, so the bytes written do not depend on the
 * thread count or completion order.
 */
public final class MergeExecutor {
    private final MergePlan plan;
    private final int threads;
    private final long budget;
    private final long seed;
    private long inFlight;

    public MergeExecutor(MergePlan plan, int threads, long budgetBytes, long seed) {
        this.plan = plan;
        this.threads = Math.max(1, threads);
        this.budget = Math.max(1, budgetBytes);
        this.seed = seed;
    }

    /** Working memory a tensor's merge may need: the method's own, plus inputs copied by conversion or reshaping. */
    public static long estimateBytes(MergePlan plan, MergePlan.Entry e) {
        DType dtype = plan.computeDType();
        long bytes = plan.method().workingBytes(e.numel(), e.inputs().size(), dtype);
        for (MergePlan.Input in : e.inputs()) {
            InputModel m = plan.models().get(in.model());
            if (m.loadCopies(in.tensor(), dtype) || (e.embed()
                    && (plan.vocabulary() != null || !Arrays.equals(m.info(in.tensor()).shape(), e.shape())))) {
                bytes += e.numel() * 4L;
            }
        }
        return bytes;
    }

    /** Computes one output tensor (not written) into fresh heap storage. */
    public Tensor compute(MergePlan.Entry e) {
        return compute(e, Tensor::heapSegment);
    }

    private Tensor compute(MergePlan.Entry e, LongFunction<MemorySegment> outputStorage) {
        DType dtype = plan.computeDType();
        List<Tensor> tensors = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (MergePlan.Input in : e.inputs()) {
            InputModel m = plan.models().get(in.model());
            tensors.add(m.load(in.tensor(), dtype));
            names.add(m.ref().spec());
        }
        if (e.embed() && plan.vocabulary() != null) {
            tensors = EmbeddingPermuter.permute(plan, e, tensors);
        } else if (e.embed()) {
            tensors = tensors.stream().map(t -> truncate(t, e.shape())).toList();
        }
        Tensor out = plan.method().merge(new MergeInputs(e.name(), names, tensors, e.baseIndex(),
                e.modelParameters(), e.globalParameters(), dtype, seed, outputStorage));
        if (!Arrays.equals(out.shape(), e.shape())) {
            throw new IllegalStateException("merge method " + plan.method().name() + " returned " + out + " for "
                    + e.name() + ", expected shape " + Shape.toString(e.shape()));
        }
        return out;
    }

    /** The top-left {@code shape} block of a 2-D tensor (mergekit's embedding rectification). */
    private static Tensor truncate(Tensor t, long[] shape) {
        if (Arrays.equals(t.shape(), shape)) {
            return t;
        }
        int rows = (int) shape[0];
        int cols = (int) shape[1];
        int srcCols = (int) t.dim(1);
        long es = t.dtype().byteSize();
        MemorySegment dst = MemorySegment.ofArray(new byte[(int) (rows * cols * es)]);
        for (int r = 0; r < rows; r++) {
            MemorySegment.copy(t.data(), r * srcCols * es, dst, r * cols * es, cols * es);
        }
        return new Tensor(t.dtype(), shape, dst);
    }

    /**
     * The dtype the method writes when the config sets no {@code out_dtype}: found by merging the smallest tensor,
     * whose result is returned for writing so the work is not repeated.
     */
    public Tensor probe() {
        MergePlan.Entry smallest = plan.entries().stream()
                .min(java.util.Comparator.comparingLong(MergePlan.Entry::numel)).orElseThrow();
        return compute(smallest);
    }

    /**
     * Runs every entry except {@code skip} (already written), writing with {@code writer} in {@code outDType}.
     * Largest tensors go first so that the last ones to finish are small and no core idles at the end.
     */
    public void run(ShardedWriter writer, DType outDType, String skip, ProgressBar progress) {
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "merge-worker");
            t.setDaemon(true);
            return t;
        });
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<MergePlan.Entry> order = new ArrayList<>(plan.entries());
        order.sort(Comparator.comparingLong(MergePlan.Entry::numel).reversed());
        try (OutputBuffers buffers = new OutputBuffers()) {
            try {
                for (MergePlan.Entry e : order) {
                    if (e.name().equals(skip)) {
                        continue;
                    }
                    long cost = Math.min(budget, estimateBytes(plan, e));
                    if (!acquire(cost, failure)) {
                        break;
                    }
                    pool.execute(() -> {
                        try {
                            if (failure.get() == null) {
                                write(writer, e, compute(e, buffers.lease()), outDType);
                                release(e);
                                progress.add(1, e.numel() * outDType.byteSize());
                            }
                        } catch (Throwable t) {
                            failure.compareAndSet(null, t);
                        } finally {
                            free(cost);
                        }
                    });
                }
            } finally {
                awaitWorkers(pool);
            }
        }
        if (failure.get() != null) {
            throw Failures.unchecked(failure.get());
        }
    }

    private static void awaitWorkers(ExecutorService pool) {
        pool.shutdown();
        try {
            if (!pool.awaitTermination(7, TimeUnit.DAYS)) {
                throw new IllegalStateException("merge workers did not finish");
            }
        } catch (InterruptedException ie) {
            pool.shutdownNow();
            Thread.currentThread().interrupt();
            throw new CrucibleException("merge interrupted");
        }
    }

    /** Writes a merged tensor, converting it when the method's dtype differs from the declared one. */
    public static void write(ShardedWriter writer, MergePlan.Entry e, Tensor result, DType outDType) {
        writer.write(e.name(), result.dtype() == outDType ? result : result.to(outDType));
    }

    /** Lets the kernel reclaim the input pages this tensor touched; other users simply fault them back in. */
    void release(MergePlan.Entry e) {
        for (MergePlan.Input in : e.inputs()) {
            plan.models().get(in.model()).release(in.tensor());
        }
    }

    private synchronized boolean acquire(long cost, AtomicReference<Throwable> failure) {
        try {
            while (inFlight > 0 && inFlight + cost > budget && failure.get() == null) {
                wait(200);
            }
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            throw new CrucibleException("merge interrupted");
        }
        if (failure.get() != null) {
            return false;
        }
        inFlight += cost;
        return true;
    }

    private synchronized void free(long cost) {
        inFlight -= cost;
        notifyAll();
    }
}
