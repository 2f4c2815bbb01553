package dev.crucible.data.recipe;

import dev.crucible.CrucibleException;
import dev.crucible.Failures;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * One pass over the rows: the reading thread groups rows into batches, worker threads process batches in parallel,
 * and the results are handed back in row order on the reading thread (which writes the output). A bounded number
 * of batches is in flight, so memory does not depend on the corpus. An error in a batch (a malformed row) surfaces
 * in row order: the first bad row of the run is the one reported.
 */
final class Pipeline<R> implements AutoCloseable {
    static final int BATCH = 512;

    private final ExecutorService pool;
    private final Function<List<RawRow>, R> work;
    private final Consumer<R> ordered;
    private final int maxInFlight;
    private final ArrayDeque<Future<R>> inFlight = new ArrayDeque<>();
    private List<RawRow> batch = new ArrayList<>(BATCH);

    Pipeline(ExecutorService pool, int threads, Function<List<RawRow>, R> work, Consumer<R> ordered) {
        this.pool = pool;
        this.work = work;
        this.ordered = ordered;
        this.maxInFlight = 2 * threads + 1;
    }

    static ExecutorService pool(int threads) {
        return Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "recipe-worker");
            t.setDaemon(true);
            return t;
        });
    }

    void accept(RawRow row) {
        batch.add(row);
        if (batch.size() == BATCH) {
            submit();
        }
    }

    /** Processes what is left and hands every result over. */
    void finish() {
        if (!batch.isEmpty()) {
            submit();
        }
        while (!inFlight.isEmpty()) {
            ordered.accept(take());
        }
    }

    private void submit() {
        List<RawRow> rows = batch;
        batch = new ArrayList<>(BATCH);
        inFlight.add(pool.submit(() -> work.apply(rows)));
        while (inFlight.size() > maxInFlight || (!inFlight.isEmpty() && inFlight.peek().isDone())) {
            ordered.accept(take());
        }
    }

    private R take() {
        try {
            return inFlight.poll().get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CrucibleException("interrupted", e);
        } catch (ExecutionException e) {
            throw Failures.unchecked(e.getCause());
        }
    }

    /** Cancels what is still in flight (after an error). */
    @Override
    public void close() {
        for (Future<R> f : inFlight) {
            f.cancel(true);
        }
        inFlight.clear();
    }
}
