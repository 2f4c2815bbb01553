package dev.crucible.tensor;

import dev.crucible.PythonInterop;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TorchSortOrderTest {
    /** bf16-rounded values: many exact ties, as merge deltas have; some NaN, infinities and signed zeros. */
    static float[] tiedKeys(Random r, int n, boolean specials) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = Rounding.bf16((float) r.nextGaussian() * 1e-3f);
            if (specials && r.nextInt(50) == 0) {
                x[i] = new float[]{Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f}[r.nextInt(5)];
            }
        }
        return x;
    }

    @Test
    void argsortOrdersAsTorchsComparator() {
        Random r = new Random(3);
        for (int trial = 0; trial < 40; trial++) {
            int n = 1 + r.nextInt(trial < 20 ? 40 : 5000);
            float[] x = tiedKeys(r, n, true);
            for (boolean descending : new boolean[]{false, true}) {
                int[] order = TorchSortOrder.argsort(x, n, descending);
                int[] seen = new int[n];
                for (int k = 0; k < n; k++) {
                    seen[order[k]]++;
                    if (k > 0) {
                        float prev = x[order[k - 1]];
                        float cur = x[order[k]];
                        // NaN sorts above +inf (last ascending, first descending); -0 == +0
                        boolean ordered = descending
                                ? Float.isNaN(prev) || (!Float.isNaN(cur) && prev >= cur)
                                : Float.isNaN(cur) || (!Float.isNaN(prev) && prev <= cur);
                        assertTrue(ordered, "n " + n + " position " + k + ": " + prev + " then " + cur);
                    }
                }
                int[] once = new int[n];
                Arrays.fill(once, 1);
                assertArrayEquals(once, seen);
            }
        }
    }

    /** The pruned introsort selects exactly the elements the full sort puts in the range, ties included. */
    @Test
    void selectedRangeEqualsTheFullSortsRange() {
        Random r = new Random(11);
        for (int trial = 0; trial < 300; trial++) {
            int n = 1 + r.nextInt(trial % 3 == 0 ? 24 : trial % 3 == 1 ? 3000 : 60000);
            float[] x = tiedKeys(r, n, trial % 2 == 0);
            boolean descending = r.nextBoolean();
            int from = r.nextInt(n + 1);
            int to = trial % 5 == 0 ? n : from + r.nextInt(n - from + 1);
            if (trial % 7 == 0) {
                from = 0;
            }
            int[] full = TorchSortOrder.argsort(x, n, descending);
            int[] expected = Arrays.copyOfRange(full, from, to);
            int[] actual = new int[to - from];
            try (TorchSortOrder.Entries entries = new TorchSortOrder.Entries(n, descending)) {
                for (int i = 0; i < n; i++) {
                    entries.put(i, x[i]);
                }
                entries.selectSortedRange(from, to);
                for (int p = from; p < to; p++) {
                    actual[p - from] = entries.indexAt(p);
                }
            }
            Arrays.sort(expected);
            Arrays.sort(actual);
            assertArrayEquals(expected, actual, "n " + n + " [" + from + ", " + to + ") descending " + descending);
        }
    }

    /** Against torch itself: argsort both ways and both topk algorithms, up to 10^6 tied bf16 keys. */
    @Test
    void equalsTorchAtEverySize(@TempDir Path dir) throws IOException {
        PythonInterop.assumeModules("torch", "numpy");
        Random r = new Random(5);
        int[] sizes = {16, 17, 1000, 70_000, 1_000_000};
        StringBuilder script = new StringBuilder("""
                import sys, numpy as np, torch
                d = sys.argv[1]
                for name in sys.argv[2:]:
                    x = torch.from_numpy(np.fromfile(f"{d}/{name}.keys", dtype="<f4"))
                    k = int(name.split("_")[1])
                    np.asarray(torch.argsort(x, descending=True), dtype="<i4").tofile(f"{d}/{name}.desc")
                    np.asarray(torch.argsort(x), dtype="<i4").tofile(f"{d}/{name}.asc")
                    for kk in (max(1, k // 100), k // 2):
                        np.asarray(torch.topk(x.bfloat16(), kk).indices.sort().values, dtype="<i4").tofile(
                            f"{d}/{name}.top{kk}")
                """);
        List<String> names = new java.util.ArrayList<>();
        for (int n : sizes) {
            String name = "keys_" + n;
            names.add(name);
            float[] x = tiedKeys(r, n, true);
            ByteBuffer b = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
            for (float v : x) {
                b.putFloat(v);
            }
            Files.write(dir.resolve(name + ".keys"), b.array());
        }
        Path py = dir.resolve("sort.py");
        Files.writeString(py, script);
        List<String> args = new java.util.ArrayList<>(List.of(dir.toString()));
        args.addAll(names);
        PythonInterop.runScript(py, args, null, Duration.ofMinutes(3)).assertOk();
        for (String name : names) {
            float[] x = floats(Files.readAllBytes(dir.resolve(name + ".keys")));
            int n = x.length;
            assertArrayEquals(ints(dir.resolve(name + ".desc")), TorchSortOrder.argsort(x, n, true), name + " desc");
            assertArrayEquals(ints(dir.resolve(name + ".asc")), TorchSortOrder.argsort(x, n, false), name + " asc");
            for (int k : new int[]{Math.max(1, n / 100), n / 2}) {
                int[] actual = TorchSortOrder.topkIndices(x, n, k); // the keys are bf16 values already
                Arrays.sort(actual);
                assertArrayEquals(ints(dir.resolve(name + ".top" + k)), actual, name + " topk " + k);
            }
        }
    }

    private static float[] floats(byte[] bytes) {
        float[] out = new float[bytes.length / 4];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
        return out;
    }

    private static int[] ints(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        int[] out = new int[bytes.length / 4];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(out);
        return out;
    }
}
