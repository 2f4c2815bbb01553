import dev.crucible.gguf.GgufModel;
import dev.crucible.tensor.BlockFormat;
import dev.crucible.tensor.BlockMatrix;
import dev.crucible.tensor.Gemm;
import dev.crucible.tensor.PackedWeight;
import dev.crucible.tensor.Parallel;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * The block products of one GGUF decode step without the rest of the model: every quantised matrix of FILE whose
 * name contains FILTER (the embedding excepted, a decode step only reads one of its rows) multiplied once by a random
 * activation row through Gemm.linear, as the runtime does, PASSES times; prints the best pass in ms and GB/s of
 * blocks. "mapped" multiplies the blocks where GgufModel hands them over (the file mapping, llama's q/k as native
 * copies); "native" first copies every matrix into native memory, to compare mapped file pages with anonymous memory.
 * Threads: -Dcrucible.threads=N. Used for docs/BENCHMARKS.md (GGUF decode, round 6):
 *
 *   java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp target/crucible.jar \
 *       tools/GgufKernelProbe.java FILE mapped|native [PASSES] [FILTER]
 */
public class GgufKernelProbe {
    public static void main(String[] args) {
        Path file = Path.of(args[0]);
        boolean copy = args[1].equals("native");
        int passes = args.length > 2 ? Integer.parseInt(args[2]) : 20;
        String filter = args.length > 3 ? args[3] : "";
        try (GgufModel model = GgufModel.open(file); Arena arena = Arena.ofShared()) {
            List<PackedWeight> weights = new ArrayList<>();
            Map<BlockFormat, Long> bytesByFormat = new TreeMap<>();
            long bytes = 0;
            int widest = 0;
            for (String name : model.names()) {
                BlockMatrix b = name.contains("embed") || !name.contains(filter) ? null : model.blocks(name);
                if (b == null) {
                    continue;
                }
                if (copy) {
                    MemorySegment s = arena.allocate(b.data().byteSize(), 64);
                    s.copyFrom(b.data());
                    b = new BlockMatrix(b.format(), b.rows(), b.cols(), s);
                }
                weights.add(PackedWeight.blocks(b));
                bytesByFormat.merge(b.format(), b.data().byteSize(), Long::sum);
                bytes += b.data().byteSize();
                widest = Math.max(widest, Math.max(b.rows(), b.cols()));
            }
            float[] x = new float[widest];
            SplittableRandom random = new SplittableRandom(1);
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) (random.nextDouble() * 2 - 1);
            }
            float[] out = new float[widest];
            double best = Double.MAX_VALUE;
            for (int pass = 0; pass < passes; pass++) {
                long start = System.nanoTime();
                for (PackedWeight w : weights) {
                    Gemm.linear(x, 1, w, null, out);
                }
                best = Math.min(best, (System.nanoTime() - start) / 1e9);
            }
            System.out.printf("%s %s, %d threads: %d matrices %s, best pass %.1f ms = %.2f GB/s%n", file.getFileName(),
                    args[1], Parallel.threads(), weights.size(), bytesByFormat, best * 1e3, bytes / best / 1e9);
        }
    }
}
