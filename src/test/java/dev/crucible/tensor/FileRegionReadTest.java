package dev.crucible.tensor;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/** {@link Tensor#readingFrom}: positional reads of the file give the same floats as the mapping, and fall back to it. */
class FileRegionReadTest {
    /** Elements spanning several 256 KiB read blocks at an unaligned file offset. */
    private static final int N = 300_001;
    private static final int HEADER = 13;

    @Test
    void readsEqualTheMappingForEveryDtypeOffsetAndLength(@TempDir Path dir) throws IOException {
        for (DType dtype : new DType[] {DType.BF16, DType.F16, DType.F32}) {
            Path file = dir.resolve(dtype + ".bin");
            byte[] bytes = new byte[HEADER + N * dtype.byteSize()];
            new SplittableRandom(dtype.ordinal()).nextBytes(bytes);
            Files.write(file, bytes);
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ); Arena arena = Arena.ofConfined()) {
                MemorySegment mapped = ch.map(FileChannel.MapMode.READ_ONLY, HEADER, (long) N * dtype.byteSize(), arena);
                Tensor viaMapping = new Tensor(dtype, new long[] {N}, mapped);
                Tensor viaFile = viaMapping.readingFrom(new FileRegion(ch, HEADER));
                int[][] ranges = {{0, N}, {1, 7}, {131_071, 131_075}, {5, 262_150}, {N - 3, 3}, {17, 0}};
                for (int[] r : ranges) {
                    float[] expected = new float[r[1] + 2];
                    float[] actual = new float[r[1] + 2];
                    viaMapping.readFloats(r[0], expected, 2, r[1]);
                    viaFile.readFloats(r[0], actual, 2, r[1]);
                    assertArrayEquals(bits(expected), bits(actual), dtype + " from " + r[0] + " count " + r[1]);
                }
            }
        }
    }

    @Test
    void closedChannelFallsBackToTheMapping(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("t.bin");
        byte[] bytes = new byte[2 * 1000];
        new SplittableRandom(3).nextBytes(bytes);
        Files.write(file, bytes);
        FileChannel closed = FileChannel.open(file, StandardOpenOption.READ);
        closed.close();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(bytes.length);
            seg.copyFrom(MemorySegment.ofBuffer(ByteBuffer.wrap(bytes)));
            Tensor t = new Tensor(DType.BF16, new long[] {1000}, seg);
            float[] expected = t.toFloatArray();
            float[] actual = t.readingFrom(new FileRegion(closed, 0)).toFloatArray();
            assertArrayEquals(bits(expected), bits(actual));
        }
    }

    private static int[] bits(float[] v) {
        int[] b = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = Float.floatToRawIntBits(v[i]);
        }
        return b;
    }
}
