package dev.crucible.tensor;

import dev.crucible.Failures;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed pool of worker threads for kernels. {@link #forEach} hands out task indices; a task always
 * computes the same outputs, so results never depend on how many threads ran or which thread took which
 * task. Workers spin briefly before parking: decoding issues hundreds of small parallel calls per token,
 * and waking a parked thread costs more than the call itself.
 */
public final class Parallel {
    /** One unit of parallel work: computes task {@code index}. */
    @FunctionalInterface
    public interface Task {
        void run(int index);
    }

    private static final int THREADS = Math.max(1, Integer.getInteger("crucible.threads",
            Runtime.getRuntime().availableProcessors()));
    private static final long SPIN_NANOS = 50_000;
    private static final Parallel POOL = new Parallel(THREADS);

    private final Thread[] workers;
    private final Object lock = new Object();
    private volatile Job job;
    private volatile long generation;

    private static final class Job {
        final Task task;
        final int count;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger done = new AtomicInteger();
        volatile Throwable failure;

        Job(Task task, int count) {
            this.task = task;
            this.count = count;
        }

        void work() {
            int i;
            while ((i = next.getAndIncrement()) < count) {
                try {
                    task.run(i);
                } catch (Throwable t) {
                    failure = t;
                }
                done.incrementAndGet();
            }
        }
    }

    private Parallel(int threads) {
        workers = new Thread[threads - 1];
        for (int w = 0; w < workers.length; w++) {
            workers[w] = Thread.ofPlatform().daemon().name("crucible-kernel-" + w).start(this::workLoop);
        }
    }

    /** Number of threads that run tasks, the caller included. */
    public static int threads() {
        return THREADS;
    }

    /** Below this many multiply-adds in total a region runs on the caller: waking workers would cost more. */
    private static final long MIN_PARALLEL_WORK = 200_000;

    /** Runs {@code task} for every index in [0, count) on the pool and the calling thread; returns when all are done. */
    public static void forEach(int count, Task task) {
        POOL.run(count, task);
    }

    /**
     * As {@link #forEach(int, Task)}, but runs on the calling thread alone when {@code totalWork} (multiply-adds,
     * or a comparable unit) is too small to repay the hand-off. The tasks and their results are the same.
     */
    public static void forEach(int count, long totalWork, Task task) {
        if (totalWork < MIN_PARALLEL_WORK) {
            for (int i = 0; i < count; i++) {
                task.run(i);
            }
        } else {
            POOL.run(count, task);
        }
    }

    private void run(int count, Task task) {
        if (count <= 1 || workers.length == 0 || Thread.currentThread().getName().startsWith("crucible-kernel-")) {
            for (int i = 0; i < count; i++) {
                task.run(i);
            }
            return;
        }
        synchronized (lock) { // one parallel region at a time; callers from several threads queue here
            Job j = new Job(task, count);
            job = j;
            generation++;
            for (Thread w : workers) {
                LockSupport.unpark(w);
            }
            j.work();
            long waitStart = System.nanoTime();
            while (j.done.get() < count) {
                if (System.nanoTime() - waitStart < SPIN_NANOS) {
                    Thread.onSpinWait();
                } else {
                    Thread.yield(); // a worker was descheduled mid-task (busy machine): let it run
                }
            }
            job = null;
            if (j.failure != null) {
                throw Failures.unchecked(j.failure);
            }
        }
    }

    private void workLoop() {
        long seen = 0;
        while (true) {
            long spinStart = System.nanoTime();
            while (generation == seen) {
                if (System.nanoTime() - spinStart < SPIN_NANOS) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this);
                }
            }
            seen = generation;
            Job j = job;
            if (j != null) {
                j.work();
            }
        }
    }
}
