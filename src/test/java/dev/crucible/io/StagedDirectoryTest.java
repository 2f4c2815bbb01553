package dev.crucible.io;

import dev.crucible.CrucibleException;
import dev.crucible.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
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
    void failureBeforePublishLeavesNoTargetAndNoStagingSibling(@TempDir Path tmp) throws IOException {
        Path target = tmp.resolve("merged");
        assertThrows(IllegalStateException.class, () -> {
            try (StagedDirectory out = StagedDirectory.create(target)) {
                assertTrue(out.path().getFileName().toString().startsWith(".merged.crucible-tmp-"
                        + ProcessHandle.current().pid() + "-"), out.path().toString());
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
    void aNewOutputGetsTheModeOfAnyNewDirectoryNotOwnerOnly(@TempDir Path tmp) throws IOException {
        // The umask decides a new directory's mode; Java cannot read the umask, so compare with a plain mkdir.
        Path plain = Files.createDirectory(tmp.resolve("plain"));
        Path target = tmp.resolve("out");
        try (StagedDirectory out = StagedDirectory.create(target)) {
            Files.writeString(out.path().resolve("x.txt"), "new");
            out.publish();
        }
        assertEquals(PosixFilePermissions.toString(Files.getPosixFilePermissions(plain)),
                PosixFilePermissions.toString(Files.getPosixFilePermissions(target)));
        Path plainFile = Files.writeString(tmp.resolve("plain.txt"), "x");
        assertEquals(PosixFilePermissions.toString(Files.getPosixFilePermissions(plainFile)),
                PosixFilePermissions.toString(Files.getPosixFilePermissions(target.resolve("x.txt"))));
    }

    @Test
    void publishIntoAnExistingDirectoryRenamesFilesInAndKeepsTheDirectoryItself(@TempDir Path tmp) throws IOException {
        Path target = Files.createDirectories(tmp.resolve("out"));
        Object inode = Files.readAttributes(target, "unix:ino").get("ino"); // a mount point cannot be replaced
        Files.writeString(target.resolve("config.json"), "old config");
        Files.writeString(target.resolve("notes.txt"), "the user's notes");
        Files.writeString(target.resolve("model-00001-of-00002.safetensors"), "old shard");
        Files.writeString(target.resolve("model.safetensors.index.json"), "old index");
        Files.createDirectories(target.resolve("tokenizer"));
        try (StagedDirectory out = StagedDirectory.create(target)) {
            assertEquals(target, out.path().getParent(), "staged inside, on the target's file system");
            Files.writeString(out.path().resolve("config.json"), "new config");
            Files.writeString(out.path().resolve("model.safetensors"), "new weights");
            Files.createDirectories(out.path().resolve("tokenizer"));
            Files.writeString(out.path().resolve("tokenizer/vocab.json"), "{}");
            assertEquals("old config", Files.readString(target.resolve("config.json")), "old output kept until publish");
            out.publish();
        }
        assertEquals(List.of("config.json", "model.safetensors", "notes.txt", "tokenizer"), entries(target),
                "the earlier model's shards and index are gone (a loader would read them), the notes stay");
        assertEquals("new config", Files.readString(target.resolve("config.json")));
        assertEquals("{}", Files.readString(target.resolve("tokenizer/vocab.json")));
        assertEquals(inode, Files.readAttributes(target, "unix:ino").get("ino"));
        assertEquals(List.of("out"), entries(tmp), "no staging directory left behind");
    }

    @Test
    void aSymlinkedOutputStaysALinkAndIsWrittenThrough(@TempDir Path tmp) throws IOException {
        Path real = Files.createDirectories(tmp.resolve("disk/real-out"));
        Path link = Files.createSymbolicLink(tmp.resolve("out"), real);
        try (StagedDirectory out = StagedDirectory.create(link)) {
            Files.writeString(out.path().resolve("config.json"), "{}");
            out.publish();
        }
        assertTrue(Files.isSymbolicLink(link));
        assertEquals(real, Files.readSymbolicLink(link));
        assertEquals(List.of("config.json"), entries(real));
    }

    @Test
    void staleStagingDirectoriesOfAKilledRunAreRemoved(@TempDir Path tmp) throws Exception {
        Process gone = new ProcessBuilder("true").start();
        gone.waitFor(10, TimeUnit.SECONDS);
        long dead = gone.pid();
        Path target = Files.createDirectories(tmp.resolve("out"));
        Path beside = Files.createDirectories(tmp.resolve(".out.crucible-tmp-" + dead + "-7"));
        Files.writeString(beside.resolve("model.safetensors"), "half written");
        Path inside = Files.createDirectories(target.resolve(".crucible-tmp-" + dead + "-8"));
        Path otherOutput = Files.createDirectories(tmp.resolve(".other.crucible-tmp-" + dead + "-9"));
        Path checkpoint = Files.createDirectories(target.resolve(".checkpoint-10.crucible-tmp-" + dead + "-5"));
        assertEquals(List.of(inside, beside, checkpoint).stream().sorted().toList(),
                StagedDirectory.removeStale(target).stream().sorted().toList());
        assertFalse(Files.exists(beside, LinkOption.NOFOLLOW_LINKS));
        assertFalse(Files.exists(inside, LinkOption.NOFOLLOW_LINKS));
        assertTrue(Files.exists(otherOutput), "another output's staging is not this output's business");
    }

    @Test
    void aRunningProcessStagingTheSameOutputIsNamedNotDeleted(@TempDir Path tmp) throws Exception {
        Process writer = new ProcessBuilder("sleep", "60").start();
        try {
            Path staging = Files.createDirectories(tmp.resolve(".out.crucible-tmp-" + writer.pid() + "-1"));
            CrucibleException e = assertThrows(CrucibleException.class, () -> StagedDirectory.create(tmp.resolve("out")));
            assertTrue(e.getMessage().contains("another process (pid " + writer.pid() + ") is writing this output"),
                    e.getMessage());
            assertTrue(Files.exists(staging));
        } finally {
            writer.destroy();
        }
    }

    @Test
    void targetThatIsAFileIsRefused(@TempDir Path tmp) throws IOException {
        Path file = Files.writeString(tmp.resolve("out"), "x");
        CrucibleException e = assertThrows(CrucibleException.class, () -> StagedDirectory.create(file));
        assertTrue(e.getMessage().contains("exists and is not a directory"), e.getMessage());
    }

    @Test
    void weightFilesAreRecognisedByName() {
        for (String name : List.of("model.safetensors", "model-00001-of-00003.safetensors", "model.safetensors.index.json",
                "pytorch_model.bin", "pytorch_model-00002-of-00002.bin", "pytorch_model.bin.index.json",
                "adapter_model.safetensors", "adapter_model.bin")) {
            assertTrue(StagedDirectory.isWeightFile(name), name);
        }
        for (String name : List.of("config.json", "tokenizer.json", "logits.safetensors", "model.safetensors.bak",
                "README.md", "optimizer.safetensors")) {
            assertFalse(StagedDirectory.isWeightFile(name), name);
        }
    }
}
