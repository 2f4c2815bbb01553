package dev.crucible.io;

import dev.crucible.CrucibleException;
import dev.crucible.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StagedDirectoryTest {
    private static List<String> entries(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void failureBeforePublishLeavesNoTargetAndNoTempSibling(@TempDir Path tmp) throws IOException {
        Path target = tmp.resolve("merged");
        assertThrows(IllegalStateException.class, () -> {
            try (StagedDirectory out = StagedDirectory.create(target)) {
                assertTrue(out.path().getFileName().toString().startsWith(".merged.tmp-"), out.path().toString());
                assertEquals(tmp, out.path().getParent());
                Files.writeString(out.path().resolve("config.json"), "{}");
                ShardedWriter w = new ShardedWriter(out.path(),
                        List.of(new TensorSpec("w", DType.F32, new long[] {4})), 1 << 20, Map.of());
                w.finish(); // "w" was never written: the job fails here
                out.publish();
            }
        });
        assertFalse(Files.exists(target));
        assertEquals(List.of(), entries(tmp));
    }

    @Test
    void publishMovesTheStagedFilesIntoPlace(@TempDir Path tmp) throws IOException {
        Path target = tmp.resolve("a/b/out");
        try (StagedDirectory out = StagedDirectory.create(target)) {
            Files.writeString(out.path().resolve("x.txt"), "new");
            assertFalse(Files.exists(target), "target untouched until publish");
            out.publish();
        }
        assertEquals("new", Files.readString(target.resolve("x.txt")));
        assertEquals(List.of("out"), entries(tmp.resolve("a/b")));
    }

    @Test
    void publishReplacesAnExistingTarget(@TempDir Path tmp) throws IOException {
        Path target = tmp.resolve("out");
        Files.createDirectories(target);
        Files.writeString(target.resolve("old.txt"), "old");
        try (StagedDirectory out = StagedDirectory.create(target)) {
            Files.writeString(out.path().resolve("new.txt"), "new");
            assertEquals("old", Files.readString(target.resolve("old.txt")), "old output kept until publish");
            out.publish();
        }
        assertEquals(List.of("new.txt"), entries(target));
        assertEquals(List.of("out"), entries(tmp), "no staging or old-output directory left behind");
    }

    @Test
    void targetThatIsAFileIsRefused(@TempDir Path tmp) throws IOException {
        Path file = Files.writeString(tmp.resolve("out"), "x");
        CrucibleException e = assertThrows(CrucibleException.class, () -> StagedDirectory.create(file));
        assertTrue(e.getMessage().contains("exists and is not a directory"), e.getMessage());
    }
}
