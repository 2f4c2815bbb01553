package dev.crucible.io;

import dev.crucible.CrucibleException;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * An output directory built in a hidden staging directory and published only when complete, so that an interrupted
 * or failed job never leaves a half-written result where the user expects one.
 * <ul>
 * <li>A target that does not exist yet is staged in a sibling {@code .<name>.crucible-tmp-<pid>-<n>} (created
 *     with the umask's mode, like any directory) and renamed into place in one step.</li>
 * <li>A target that exists (a directory, a mount point, or a symbolic link to a directory) is staged inside it,
 *     {@code <target>/.crucible-tmp-<pid>-<n>}, on the same file system, and published by renaming each entry into
 *     it: same-named entries are replaced, unrelated files are kept, the directory itself (its inode, its mount,
 *     the link that points to it) is left as it is. Weight files of an earlier model that the new output does not
 *     write ({@link #isWeightFile}) are removed, since loaders would pick them up next to the new ones.</li>
 * <li>Staging directories still open when the JVM exits (Ctrl-C) are deleted by a shutdown hook; those a killed
 *     process left behind are found by their process id and removed the next time the same target is written
 *     ({@link #removeStale}).</li>
 * </ul>
 * Which outputs may be written at all is {@link OutputCheck}'s decision, made before any work starts.
 */
public final class StagedDirectory implements AutoCloseable {
    private static final String TAG = ".crucible-tmp-";
    private static final Pattern OWNER = Pattern.compile(Pattern.quote(TAG) + "(\\d+)-\\d+$");
    /** Weight files of Hugging Face model and PEFT adapter directories (shards and their indexes). */
    private static final Pattern WEIGHTS = Pattern.compile(
            "(model|pytorch_model|adapter_model)(-\\d+-of-\\d+)?\\.(safetensors|bin)(\\.index\\.json)?");
    private static final Set<Path> OPEN = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> OPEN.forEach(StagedDirectory::deleteQuietly)));
    }

    private final Path target;
    private final Path staging;
    private final boolean inside;
    private boolean published;

    private StagedDirectory(Path target, Path staging, boolean inside) {
        this.target = target;
        this.staging = staging;
        this.inside = inside;
    }

    /** Starts a staging directory for {@code target}; the target itself is untouched until {@link #publish}. */
    public static StagedDirectory create(Path target) {
        Path abs = target.toAbsolutePath().normalize();
        if (Files.isSymbolicLink(abs) && !Files.exists(abs)) {
            throw new CrucibleException(target + ": is a symbolic link to a directory that does not exist");
        }
        if (Files.exists(abs) && !Files.isDirectory(abs)) {
            throw new CrucibleException(target + ": exists and is not a directory");
        }
        removeStale(abs);
        boolean inside = Files.isDirectory(abs);
        Path parent = inside ? abs : abs.getParent();
        String prefix = (inside ? "" : "." + abs.getFileName()) + TAG + ProcessHandle.current().pid() + "-";
        try {
            Files.createDirectories(parent);
            while (true) {
                Path staging = parent.resolve(prefix + Long.toUnsignedString(ThreadLocalRandom.current().nextLong()));
                try {
                    Files.createDirectory(staging); // not createTempDirectory: that one is mode 0700 whatever the umask
                    OPEN.add(staging);
                    return new StagedDirectory(abs, staging, inside);
                } catch (FileAlreadyExistsException e) {
                    // another staging directory took the name: draw again
                }
            }
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

    /** Puts the staged files at the target (see the class comment for an existing target). */
    public void publish() {
        try {
            if (!inside) {
                try {
                    move(staging, target);
                    OPEN.remove(staging);
                    published = true;
                    return;
                } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
                    if (!Files.isDirectory(target)) {
                        throw e;
                    }
                    // the target appeared while we worked: publish into it like into any existing directory
                }
            }
            publishInto();
        } catch (IOException e) {
            throw new CrucibleException(target + ": cannot publish output: " + e.getMessage(), e);
        }
    }

    /** Renames each staged entry into the existing target, then drops what it replaced and stale weight files. */
    private void publishInto() throws IOException {
        Path replaced = staging.resolve(TAG + "replaced");
        Files.createDirectory(replaced);
        Set<String> written = new HashSet<>();
        for (Path entry : list(staging)) {
            String name = entry.getFileName().toString();
            if (entry.equals(replaced)) {
                continue;
            }
            written.add(name);
            Path dest = target.resolve(name);
            if (Files.isDirectory(dest, LinkOption.NOFOLLOW_LINKS)) {
                move(dest, replaced.resolve(name)); // rename(2) replaces files, not non-empty directories
            }
            move(entry, dest);
        }
        for (Path old : list(target)) {
            String name = old.getFileName().toString();
            if (!written.contains(name) && isWeightFile(name) && Files.isRegularFile(old, LinkOption.NOFOLLOW_LINKS)) {
                move(old, replaced.resolve(name));
            }
        }
        OPEN.remove(staging);
        published = true;
        deleteQuietly(staging);
    }

    /** Whether {@code name} is a weight file (shard or index) of a model or adapter directory. */
    public static boolean isWeightFile(String name) {
        return WEIGHTS.matcher(name).matches();
    }

    /** Whether {@code name} is one of the staging directories this class makes (live or stale). */
    public static boolean isStaging(String name) {
        return name.contains(TAG);
    }

    /**
     * Deletes the staging directories of {@code target} (beside it, or anywhere directly inside it) whose process has
     * exited, and returns them. A staging directory of a process still running means two jobs write the same output: refused.
     */
    public static List<Path> removeStale(Path target) {
        Path abs = target.toAbsolutePath().normalize();
        List<Path> candidates = new ArrayList<>();
        String sibling = "." + abs.getFileName() + TAG;
        if (abs.getParent() != null && Files.isDirectory(abs.getParent())) {
            list(abs.getParent()).stream().filter(p -> p.getFileName().toString().startsWith(sibling))
                    .forEach(candidates::add);
        }
        if (Files.isDirectory(abs)) { // its own staging, and that of entries written inside it (sft's checkpoints)
            list(abs).stream().filter(p -> isStaging(p.getFileName().toString())).forEach(candidates::add);
        }
        List<Path> removed = new ArrayList<>();
        for (Path dir : candidates) {
            Matcher m = OWNER.matcher(dir.getFileName().toString());
            if (!m.find() || !Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS) || OPEN.contains(dir)) {
                continue; // not ours, or this JVM's own job
            }
            long pid = Long.parseLong(m.group(1));
            if (pid != ProcessHandle.current().pid() && ownerRunning(pid, dir)) {
                throw new CrucibleException(target + ": another process (pid " + pid + ") is writing this output now "
                        + "(its staging directory is " + dir + "); wait for it to finish, or stop it");
            }
            deleteQuietly(dir);
            removed.add(dir);
        }
        return removed;
    }

    /** Whether process {@code pid} runs and is the one that made {@code dir} (not a later process reusing the id). */
    private static boolean ownerRunning(long pid, Path dir) {
        Optional<ProcessHandle> process = ProcessHandle.of(pid).filter(ProcessHandle::isAlive);
        if (process.isEmpty()) {
            return false;
        }
        Optional<Instant> started = process.get().info().startInstant();
        try {
            Instant made = Files.readAttributes(dir, BasicFileAttributes.class).lastModifiedTime().toInstant();
            return started.isEmpty() || !started.get().isAfter(made.plusSeconds(1));
        } catch (IOException e) {
            return false; // gone meanwhile
        }
    }

    private static List<Path> list(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.toList();
        } catch (IOException e) {
            throw new CrucibleException(dir + ": cannot list: " + e.getMessage(), e);
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
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
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
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
            // best effort: a leftover hidden staging directory is removed by removeStale on the next run
        }
    }
}
