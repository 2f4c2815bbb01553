package dev.crucible.merge;

import com.sun.nio.file.ExtendedOpenOption;
import dev.crucible.io.Checkpoint;
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

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@link InputModel#uncachedBytes} asks the page cache, which `merge --dry-run` charges at a disk rate: a model
 * written with O_DIRECT (past the page cache) is all uncached, and all cached once read.
 */
class InputModelPagesTest {
    @TempDir
    Path tmp;

    @Test
    void uncachedBytesFollowThePageCache() throws IOException {
        Path source = MergeTestSupport.FIXTURES.resolve("models/tiny-base");
        Path model = Files.createDirectories(tmp.resolve("model"));
        Files.copy(source.resolve("config.json"), model.resolve("config.json"));
        assumeTrue(copyPastThePageCache(source.resolve(Checkpoint.SINGLE_FILE), model.resolve(Checkpoint.SINGLE_FILE)),
                "this file system takes no O_DIRECT writes (e.g. tmpfs)");
        try (InputModel in = InputModel.open(new ModelRef("m", model, null));
             Checkpoint c = Checkpoint.open(model)) {
            long total = 0;
            long uncached = 0;
            for (String name : c.names()) {
                total += in.bytes(name);
                uncached += in.uncachedBytes(name, 4096);
            }
            // slices with any page missing count whole, and a tensor's slices are within its bytes
            assertTrue(uncached > 0.9 * total && uncached <= total, uncached + " of " + total);
            String first = c.names().get(0);
            assertEquals(0, in.uncachedBytes(first, in.bytes(first), 4096, 4096));
            for (String name : c.names()) {
                in.load(name, in.info(name).dtype()).toFloatArray(); // reads every byte (positional reads)
            }
            for (String name : c.names()) {
                assertEquals(0, in.uncachedBytes(name, 4096), name);
            }
        }
    }

    /** Copies {@code from} to {@code to} with O_DIRECT writes of whole blocks, then cuts it to size; false if refused. */
    private static boolean copyPastThePageCache(Path from, Path to) throws IOException {
        byte[] bytes = Files.readAllBytes(from);
        int block = 4096;
        long padded = (bytes.length + block - 1L) / block * block;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(padded, block);
            MemorySegment.copy(MemorySegment.ofArray(bytes), 0, buffer, 0, bytes.length);
            try (FileChannel ch = FileChannel.open(to, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                    ExtendedOpenOption.DIRECT)) {
                ByteBuffer b = buffer.asByteBuffer();
                while (b.hasRemaining()) {
                    ch.write(b);
                }
            } catch (IOException | UnsupportedOperationException e) {
                Files.deleteIfExists(to);
                return false;
            }
        }
        try (FileChannel ch = FileChannel.open(to, StandardOpenOption.WRITE)) {
            ch.truncate(bytes.length); // drops no cached pages: there are none
        }
        return true;
    }
}
