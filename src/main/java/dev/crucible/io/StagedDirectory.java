package dev.crucible.io;

import dev.crucible.CrucibleException;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An output directory built in a temporary sibling and renamed into place only when complete, so that an
 * interrupted or failed job never leaves a half-written result where the user expects one. Staging
 * directories still open when the JVM exits (Ctrl-C) are deleted by a shutdown hook.
 */
public final class StagedDirectory implements AutoCloseable {
    private static final Set<Path> OPEN = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> OPEN.forEach(StagedDirectory::deleteQuietly)));
    }

    private final Path target;
    private final Path staging;
    private boolean published;

    private StagedDirectory(Path target, Path staging) {
        this.target = target;
        this.staging = staging;
    }

    /** Starts a staging directory next to {@code target}; the target itself is untouched until publish. */
    public static StagedDirectory create(Path target) {
        Path abs = target.toAbsolutePath().normalize();
        Path parent = abs.getParent();
        if (Files.exists(abs) && !Files.isDirectory(abs)) {
            throw new CrucibleException(target + ": exists and is not a directory");
        }
        try {
            Files.createDirectories(parent);
            Path staging = Files.createTempDirectory(parent, "." + abs.getFileName() + ".tmp-");
            OPEN.add(staging);
            return new StagedDirectory(abs, staging);
        } catch (IOException e) {
            throw new CrucibleException(parent + ": cannot create an output directory there: " + e.getMessage(), e);
        }
    }

    /** Where to write the files. */
    public Path path() {
        return staging;
    }

    public Path target() {
        return target;
    }

    /** Renames the staging directory to the target; an existing target is replaced only after that succeeds. */
    public void publish() {
        try {
            Path old = null;
            if (Files.exists(target)) {
                old = target.resolveSibling("." + target.getFileName() + ".old-" + System.nanoTime());
                move(target, old);
            }
            try {
                move(staging, target);
            } catch (IOException e) {
                if (old != null) {
                    move(old, target); // put the previous output back where the user had it
                }
                throw e;
            }
            OPEN.remove(staging);
            published = true;
            if (old != null) {
                deleteQuietly(old);
            }
        } catch (IOException e) {
            throw new CrucibleException(target + ": cannot publish output: " + e.getMessage(), e);
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to);
        }
    }

    /** Deletes the staging directory unless it was published. */
    @Override
    public void close() {
        if (!published) {
            deleteQuietly(staging);
            OPEN.remove(staging);
        }
    }

    static void deleteQuietly(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try {
            Files.walkFileTree(dir, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    Files.deleteIfExists(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path d, IOException exc) throws IOException {
                    Files.deleteIfExists(d);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException ignored) {
            // best effort: a leftover hidden temp directory is harmless and named for what it is
        }
    }
}
