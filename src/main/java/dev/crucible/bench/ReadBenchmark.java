package dev.crucible.bench;

import dev.crucible.CrucibleException;
import dev.crucible.ProgressBar;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.ShardedWriter;
import dev.crucible.io.StagedDirectory;
import dev.crucible.io.TensorSpec;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Tensor;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Stream;

/**
 * How fast Crucible reads a bf16 checkpoint as float32 compared with reading the same bytes plainly, both from
 * the page cache and with the same number of threads. The plain read sums the mapped files as longs (every
 * byte touched, nothing else done); the float32 read opens the directory as a {@link Checkpoint} and converts
 * every tensor, tile by tile, into a reused per-thread float[] with {@link Tensor#readFloats}.
 */
public final class ReadBenchmark {
    /** Tensors of a typical 7B-class projection: 4096 x 4096 bf16, 32 MiB each. */
    static final long[] DEFAULT_SHAPE = {4096, 4096};
    /** Elements per work item a thread claims. */
    static final int ITEM = 256 * 1024;
    /** Floats per readFloats call: a 16 KiB tile that stays in L1, as a kernel's would. */
    static final int TILE = 4 * 1024;
    /** Bytes per work item of the plain read. */
    static final long PLAIN_CHUNK = 4L << 20;
    private static final VectorSpecies<Long> LONGS = LongVector.SPECIES_PREFERRED;
    private static final List<String> PROJECTIONS = List.of("self_attn.q_proj", "self_attn.k_proj",
            "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj");

    /** Sum of everything read, printed so that the JIT cannot drop the reads. */
    private final LongAdder sink = new LongAdder();
    private final int threads;
    private final PrintStream log;

    private final long[] tensorShape;

    public ReadBenchmark(int threads, PrintStream log) {
        this(threads, log, DEFAULT_SHAPE);
    }

    /** With tensors of another [rows, columns] shape (small ones keep the test of this class fast). */
    ReadBenchmark(int threads, PrintStream log, long[] tensorShape) {
        this.threads = threads;
        this.log = log;
        this.tensorShape = tensorShape.clone();
    }

    /** Best and median throughput of each way of reading, in GB/s of bf16 file data (1 GB = 1e9 bytes). */
    /** Wall-clock seconds, and CPU seconds summed over the threads (robust on a shared, busy machine). */
    record Timing(double wall, double cpu) {
    }

    /**
     * Throughput of one way of reading over the timed runs: GB/s of wall time, and GB per CPU-second (what
     * the reading costs, undisturbed by other processes competing for the cores).
     */
    public record Series(double[] wallGbps, double[] gbPerCpuS) {
        Series(int runs) {
            this(new double[runs], new double[runs]);
        }

        void set(int run, double gb, Timing t) {
            wallGbps[run] = gb / t.wall();
            gbPerCpuS[run] = gb / t.cpu();
        }
    }

    /**
     * @param plain       mapping the files and summing them, per run
     * @param asFloat     opening the Checkpoint and converting every tensor, per run
     * @param plainMapped summing files mapped once before the runs (page tables already filled)
     * @param floatMapped converting the tensors of a Checkpoint opened once before the runs
     */
    public record Result(long bytes, int shards, int tensors, Series plain, Series asFloat, Series plainMapped,
                         Series floatMapped) {
    }

    public static double best(double[] runs) {
        return Arrays.stream(runs).max().orElse(0);
    }

    public static double median(double[] runs) {
        double[] s = runs.clone();
        Arrays.sort(s);
        return s.length == 0 ? 0 : s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    /** Generates the checkpoint in {@code dir} unless one of that size is already there, then measures. */
    public Result run(Path dir, long targetBytes, long shardBytes, int repeat) {
        ensureCheckpoint(dir, targetBytes, shardBytes);
        List<Path> files = shardFiles(dir);
        try (Arena arena = Arena.ofShared(); Checkpoint c = Checkpoint.open(dir)) {
            long bytes = c.totalBytes();
            double gb = bytes / 1e9;
            List<MemorySegment> maps = map(files, arena);
            List<Tensor> tensors = new ArrayList<>();
            for (String name : c.names()) {
                tensors.add(c.tensor(name));
            }
            log.printf("warming up (page cache and JIT)...%n");
            plainRead(files);
            floatRead(dir);
            sumAll(maps);
            convertAll(tensors);
            Series plain = new Series(repeat);
            Series asFloat = new Series(repeat);
            Series plainMapped = new Series(repeat);
            Series floatMapped = new Series(repeat);
            for (int r = 0; r < repeat; r++) {
                // interleaved, so that a noisy neighbour hurts all alike
                plain.set(r, gb, plainRead(files));
                asFloat.set(r, gb, floatRead(dir));
                plainMapped.set(r, gb, sumAll(maps));
                floatMapped.set(r, gb, convertAll(tensors));
                log.printf("  run %d/%d: plain %.2f, float32 %.2f, plain mapped %.2f, float32 mapped %.2f GB/s%n",
                        r + 1, repeat, plain.wallGbps()[r], asFloat.wallGbps()[r], plainMapped.wallGbps()[r],
                        floatMapped.wallGbps()[r]);
            }
            log.printf("(checksum %d)%n", sink.sum());
            return new Result(bytes, files.size(), tensors.size(), plain, asFloat, plainMapped, floatMapped);
        }
    }

    private long tensorBytes() {
        return tensorShape[0] * tensorShape[1] * DType.BF16.byteSize();
    }

    void ensureCheckpoint(Path dir, long targetBytes, long shardBytes) {
        int count = (int) Math.max(1, (targetBytes + tensorBytes() - 1) / tensorBytes());
        if (Checkpoint.isCheckpoint(dir)) {
            try (Checkpoint c = Checkpoint.open(dir)) {
                if (c.totalBytes() == count * tensorBytes() && c.names().size() == count) {
                    log.printf("reusing %s%n", dir);
                    return;
                }
            } catch (CrucibleException e) {
                log.printf("regenerating %s (%s)%n", dir, e.getMessage());
            }
        }
        List<TensorSpec> specs = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            String name = "model.layers." + i / PROJECTIONS.size() + "." + PROJECTIONS.get(i % PROJECTIONS.size())
                    + ".weight";
            specs.add(new TensorSpec(name, DType.BF16, tensorShape));
        }
        ProgressBar progress = new ProgressBar(log, "generating " + dir, "tensors", true)
                .expect(count, count * tensorBytes());
        try (StagedDirectory out = StagedDirectory.create(dir)) {
            try (ShardedWriter w = new ShardedWriter(out.path(), specs, shardBytes, Map.of("format", "pt"))) {
                AtomicInteger next = new AtomicInteger();
                parallel(() -> {
                    try (Arena arena = Arena.ofConfined()) {
                        MemorySegment buf = arena.allocate(tensorBytes(), 64);
                        for (int i; (i = next.getAndIncrement()) < count; ) {
                            fillBf16(buf, i);
                            w.write(specs.get(i).name(), new Tensor(DType.BF16, tensorShape, buf));
                            progress.add(1, tensorBytes());
                        }
                    }
                });
                w.finish();
            }
            out.publish();
        }
    }

    /** Normal bf16 values of magnitude 2^-7 up to 2, random signs and mantissas (no NaN, no infinity). */
    private static void fillBf16(MemorySegment buf, int seed) {
        long x = 0x9E3779B97F4A7C15L * (seed + 1);
        for (long off = 0; off < buf.byteSize(); off += 8) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            // per 16-bit lane: random sign, low 3 exponent bits and 7 mantissa bits; exponent 120..127
            long codes = (x & 0x83FF83FF83FF83FFL) | 0x3C003C003C003C00L;
            buf.set(ValueLayout.JAVA_LONG_UNALIGNED, off, codes);
        }
    }

    static List<Path> shardFiles(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.toString().endsWith(".safetensors")).sorted().toList();
        } catch (IOException e) {
            throw new CrucibleException(dir + ": cannot list: " + e.getMessage(), e);
        }
    }

    private static List<MemorySegment> map(List<Path> files, Arena arena) {
        List<MemorySegment> maps = new ArrayList<>();
        for (Path f : files) {
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                maps.add(ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena));
            } catch (IOException e) {
                throw new CrucibleException(f + ": cannot map: " + e.getMessage(), e);
            }
        }
        return maps;
    }

    /** Maps {@code files} and reads every byte (summed as longs with the Vector API). */
    Timing plainRead(List<Path> files) {
        long t0 = System.nanoTime();
        try (Arena arena = Arena.ofShared()) {
            double cpu = sumAll(map(files, arena)).cpu();
            return new Timing((System.nanoTime() - t0) / 1e9, cpu);
        }
    }

    Timing sumAll(List<MemorySegment> maps) {
        List<long[]> items = new ArrayList<>(); // {file, offset, length}
        for (int m = 0; m < maps.size(); m++) {
            long size = maps.get(m).byteSize();
            for (long off = 0; off < size; off += PLAIN_CHUNK) {
                items.add(new long[] {m, off, Math.min(PLAIN_CHUNK, size - off)});
            }
        }
        AtomicInteger next = new AtomicInteger();
        long t0 = System.nanoTime();
        long cpu = parallel(() -> {
            long sum = 0;
            for (int i; (i = next.getAndIncrement()) < items.size(); ) {
                long[] it = items.get(i);
                sum += sumLongs(maps.get((int) it[0]), it[1], it[2]);
            }
            sink.add(sum);
        });
        return new Timing((System.nanoTime() - t0) / 1e9, cpu / 1e9);
    }

    private static long sumLongs(MemorySegment seg, long off, long len) {
        LongVector acc = LongVector.zero(LONGS);
        long step = LONGS.vectorByteSize();
        long end = off + len - len % step;
        long p = off;
        for (; p < end; p += step) {
            acc = acc.add(LongVector.fromMemorySegment(LONGS, seg, p, ByteOrder.LITTLE_ENDIAN));
        }
        long sum = acc.reduceLanes(VectorOperators.ADD);
        for (; p < off + len; p++) {
            sum += seg.get(ValueLayout.JAVA_BYTE, p);
        }
        return sum;
    }

    /** Opens {@code dir} as a checkpoint and reads every tensor as float32. */
    Timing floatRead(Path dir) {
        long t0 = System.nanoTime();
        try (Checkpoint c = Checkpoint.open(dir)) {
            List<Tensor> tensors = new ArrayList<>();
            for (String name : c.names()) {
                tensors.add(c.tensor(name));
            }
            double cpu = convertAll(tensors).cpu();
            return new Timing((System.nanoTime() - t0) / 1e9, cpu);
        }
    }

    Timing convertAll(List<Tensor> tensors) {
        List<long[]> items = new ArrayList<>(); // {tensor, first element, count}
        for (int t = 0; t < tensors.size(); t++) {
            long n = tensors.get(t).numel();
            for (long from = 0; from < n; from += ITEM) {
                items.add(new long[] {t, from, Math.min(ITEM, n - from)});
            }
        }
        AtomicInteger next = new AtomicInteger();
        long t0 = System.nanoTime();
        long cpu = parallel(() -> {
            float[] buf = new float[TILE];
            long sum = 0;
            for (int i; (i = next.getAndIncrement()) < items.size(); ) {
                long[] it = items.get(i);
                Tensor t = tensors.get((int) it[0]);
                for (long from = it[1], end = it[1] + it[2]; from < end; from += TILE) {
                    int n = (int) Math.min(TILE, end - from);
                    t.readFloats(from, buf, 0, n);
                    sum += Float.floatToRawIntBits(buf[n - 1]);
                }
            }
            sink.add(sum);
        });
        return new Timing((System.nanoTime() - t0) / 1e9, cpu / 1e9);
    }

    /** Runs {@code body} on {@link #threads} platform threads, waits for all and returns their CPU nanoseconds. */
    private long parallel(Runnable body) {
        List<Thread> started = new ArrayList<>();
        LongAdder cpu = new LongAdder();
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        List<Throwable> errors = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int t = 0; t < threads; t++) {
            started.add(Thread.ofPlatform().name("bench-" + t).start(() -> {
                long c0 = mx.getCurrentThreadCpuTime();
                try {
                    body.run();
                    cpu.add(mx.getCurrentThreadCpuTime() - c0);
                } catch (Throwable e) {
                    errors.add(e);
                }
            }));
        }
        for (Thread t : started) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new CrucibleException("benchmark interrupted", e);
            }
        }
        if (!errors.isEmpty()) {
            Throwable first = errors.getFirst();
            if (first instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(first);
        }
        return cpu.sum();
    }
}
