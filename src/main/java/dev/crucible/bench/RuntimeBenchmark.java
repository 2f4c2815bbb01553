package dev.crucible.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.eval.Sampler;
import dev.crucible.model.Transformer;
import dev.crucible.nn.KVCache;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Gemm;
import dev.crucible.tensor.PackedWeight;
import dev.crucible.tensor.Parallel;
import dev.crucible.tensor.Tensor;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.management.ManagementFactory;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

/**
 * Throughput of the runtime on this machine: matmul GFLOP/s, copy bandwidth, and prefill/decode tokens/s
 * of a model with SmolLM2-135M's shape and random bf16 weights (written to a temporary directory and
 * loaded like any checkpoint). Prints one JSON line per measurement, like the PyTorch anchor script.
 */
public final class RuntimeBenchmark {
    private final PrintStream out;
    private final ObjectMapper json = new ObjectMapper();

    public RuntimeBenchmark(PrintStream out) {
        this.out = out;
    }

    private long cpuStart;
    private long wallStart;

    /** Starts the CPU-share clock of the next measurement. */
    private void start() {
        cpuStart = processCpuNanos();
        wallStart = System.nanoTime();
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    /**
     * Prints a measurement with {@code cpu_share}: the CPU time this process got over wall time times threads
     * since {@link #start}. On a shared machine it says how much of the cores the numbers had.
     */
    private void emit(ObjectNode o) {
        double wall = (System.nanoTime() - wallStart) * (double) Parallel.threads();
        o.put("threads", Parallel.threads());
        o.put("cpu_share", round((processCpuNanos() - cpuStart) / wall, 2));
        out.println(o.toString());
        out.flush();
    }

    /** Best-of-reps GFLOP/s of [n, k] x [m, k]^T with weights of {@code dtype}. */
    public double matmul(DType dtype, int n, int k, int m, int reps) {
        float[] x = random(n * k, 1, 1f);
        PackedWeight w = PackedWeight.of(Tensor.fromFloats(dtype, random(m * k, 2, 0.05f), m, k), Arena.ofAuto());
        float[] y = new float[n * m];
        start();
        // warm up for 3 s of this thread's CPU time (a busy machine gives the JIT less than the wall clock suggests)
        var threadBean = ManagementFactory.getThreadMXBean();
        long warmCpu = threadBean.getCurrentThreadCpuTime() + 3_000_000_000L;
        long warmWall = System.nanoTime() + 30_000_000_000L;
        while (threadBean.getCurrentThreadCpuTime() < warmCpu && System.nanoTime() < warmWall) {
            Gemm.linear(x, n, w, null, y);
        }
        double best = Double.MAX_VALUE;
        for (int r = 0; r < reps; r++) {
            long t = System.nanoTime();
            Gemm.linear(x, n, w, null, y);
            best = Math.min(best, (System.nanoTime() - t) / 1e9);
        }
        double gflops = 2.0 * n * k * m / best / 1e9;
        ObjectNode o = json.createObjectNode().put("case", "matmul").put("dtype", dtype.safetensorsName())
                .put("n", n).put("k", k).put("m", m).put("gflops", round(gflops, 1));
        emit(o);
        return gflops;
    }

    /** Memory bandwidth in bytes per second: a copy (bytes copied / time) and a streaming read. */
    public record Bandwidth(double copy, double read) {
    }

    /**
     * Bytes per second of a large copy (bytes copied / time, as memcpy bandwidth is usually quoted) and of a
     * streaming read of the same bytes. Decoding mostly reads, so the read is the stricter floor.
     */
    public Bandwidth bandwidth() {
        long bytes = 256L << 20; // far past the caches; two buffers of it are the command's largest allocation
        try (Arena arena = Arena.ofShared()) {
            MemorySegment a = arena.allocate(bytes, 64), b = arena.allocate(bytes, 64);
            a.fill((byte) 1);
            b.fill((byte) 2);
            int threads = Parallel.threads();
            long part = bytes / threads;
            double bestCopy = Double.MAX_VALUE, bestRead = Double.MAX_VALUE;
            long[] sums = new long[threads]; // stored, so the reads cannot be optimised away
            start();
            for (int r = 0; r < 6; r++) {
                long t = System.nanoTime();
                Parallel.forEach(threads, i -> MemorySegment.copy(a, i * part, b, i * part, part));
                bestCopy = Math.min(bestCopy, (System.nanoTime() - t) / 1e9);
                t = System.nanoTime();
                Parallel.forEach(threads, i -> sums[i] += sumInts(b, i * part, (i + 1) * part));
                bestRead = Math.min(bestRead, (System.nanoTime() - t) / 1e9);
            }
            Bandwidth bw = new Bandwidth(bytes / bestCopy, bytes / bestRead);
            emit(json.createObjectNode().put("case", "copy").put("bytes", bytes).put("gb_per_s", round(bw.copy / 1e9, 1))
                    .put("read_gb_per_s", round(bw.read / 1e9, 1)));
            return bw;
        }
    }

    /** Sum of the ints in [from, to) read with four independent vector accumulators (to - from: whole vectors). */
    private static long sumInts(MemorySegment s, long from, long to) {
        var species = IntVector.SPECIES_PREFERRED;
        long step = species.vectorByteSize();
        IntVector a0 = IntVector.zero(species), a1 = a0, a2 = a0, a3 = a0;
        for (long o = from; o + 4 * step <= to; o += 4 * step) {
            a0 = a0.add(IntVector.fromMemorySegment(species, s, o, ByteOrder.LITTLE_ENDIAN));
            a1 = a1.add(IntVector.fromMemorySegment(species, s, o + step, ByteOrder.LITTLE_ENDIAN));
            a2 = a2.add(IntVector.fromMemorySegment(species, s, o + 2 * step, ByteOrder.LITTLE_ENDIAN));
            a3 = a3.add(IntVector.fromMemorySegment(species, s, o + 3 * step, ByteOrder.LITTLE_ENDIAN));
        }
        return a0.add(a1).add(a2).add(a3).reduceLanesToLong(VectorOperators.ADD);
    }

    /**
     * tokens/s of a forward pass over batch x seq tokens computing every position's logits: the best of
     * {@code repeat} passes after a 4 x 64 warm-up pass, as the PyTorch side (tools/torch_runtime_anchor.py) does.
     */
    public double prefill(Transformer model, int batch, int seq, int repeat) {
        start();
        int[][] warm = randomTokens(batch, Math.min(64, seq), model.spec().vocab(), 3);
        model.forward(warm, model.newCache(batch, warm[0].length), Transformer.Logits.ALL, null);
        int[][] ids = randomTokens(batch, seq, model.spec().vocab(), 4);
        double best = Double.MAX_VALUE;
        for (int r = 0; r < repeat; r++) {
            long t = System.nanoTime();
            model.forward(ids, model.newCache(batch, seq), Transformer.Logits.ALL, null);
            best = Math.min(best, (System.nanoTime() - t) / 1e9);
        }
        double tps = batch * seq / best;
        emit(json.createObjectNode().put("case", "prefill").put("batch", batch).put("seq", seq).put("repeat", repeat)
                .put("seconds", round(best, 3)).put("tokens_per_s", round(tps, 1)));
        return tps;
    }

    /**
     * tokens/s of greedy one-token steps (batch 1) after a 16-token prompt, best of 3 rounds after a 3 s
     * warm-up; also the bandwidth floors (copy and read).
     */
    public double decode(Transformer model, int tokens, Bandwidth bandwidth) {
        start();
        int[][] prompt = randomTokens(1, 16, model.spec().vocab(), 5);
        // warm up for 3 s of this thread's CPU time: one round left some kernels in OSR or C1 code
        var threadBean = ManagementFactory.getThreadMXBean();
        long warmCpu = threadBean.getCurrentThreadCpuTime() + 3_000_000_000L;
        long warmWall = System.nanoTime() + 30_000_000_000L;
        do {
            decodeRound(model, prompt, tokens);
        } while (threadBean.getCurrentThreadCpuTime() < warmCpu && System.nanoTime() < warmWall);
        double best = 0;
        for (int round = 0; round < 3; round++) {
            best = Math.max(best, decodeRound(model, prompt, tokens));
        }
        long bytes = model.weights().matrixBytes();
        double floor = bandwidth.copy() / bytes;
        double readFloor = bandwidth.read() / bytes;
        emit(json.createObjectNode().put("case", "decode").put("batch", 1).put("tokens", tokens)
                .put("tokens_per_s", round(best, 2)).put("weight_bytes", bytes)
                .put("bandwidth_floor_tokens_per_s", round(floor, 1)).put("floor_ratio", round(floor / best, 2))
                .put("read_floor_tokens_per_s", round(readFloor, 1)).put("read_floor_ratio", round(readFloor / best, 2)));
        return best;
    }

    /** tokens/s of {@code tokens} greedy steps after prefilling {@code prompt} into a fresh cache. */
    private static double decodeRound(Transformer model, int[][] prompt, int tokens) {
        KVCache cache = model.newCache(1, prompt[0].length + tokens);
        float[] logits = model.forward(prompt, cache, Transformer.Logits.LAST, null);
        long t = System.nanoTime();
        for (int i = 0; i < tokens; i++) {
            logits = model.forward(new int[][] {{Sampler.argmax(logits, 0, logits.length)}}, cache,
                    Transformer.Logits.LAST, null);
        }
        return tokens / ((System.nanoTime() - t) / 1e9);
    }

    private static int[][] randomTokens(int batch, int seq, int vocab, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[][] ids = new int[batch][seq];
        for (int[] row : ids) {
            for (int i = 0; i < seq; i++) {
                row[i] = r.nextInt(vocab);
            }
        }
        return ids;
    }

    private static float[] random(int n, long seed, float scale) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) ((r.nextDouble() * 2 - 1) * scale * Math.sqrt(3));
        }
        return v;
    }

    private static double round(double v, int digits) {
        double f = Math.pow(10, digits);
        return Math.round(v * f) / f;
    }
}
