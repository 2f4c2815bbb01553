package dev.crucible.io;

import dev.crucible.CrucibleException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * The one check of where a command writes, run before any work starts (every command that writes a directory or
 * a file calls it; see docs/ARCHITECTURE.md):
 * <ul>
 * <li>the output must not be, contain or lie inside anything the job reads (config, models, adapters, datasets):
 *     {@code merge cfg.yml .} or {@code extract-lora --out-path BASE} are refused with nothing touched;</li>
 * <li>an existing output must be a directory (a file, for file outputs) and writable; a symbolic link is followed
 *     (the output is written through it), a link to nothing is refused;</li>
 * <li>an existing, non-empty output is written only with {@code overwrite} (the user's {@code --overwrite}):
 *     then {@link StagedDirectory} renames the new files into it, replacing same-named files and earlier weight
 *     files, keeping the rest;</li>
 * <li>staging directories that a killed run left for the same output are deleted, each named in a note.</li>
 * </ul>
 * Paths are compared after resolving symbolic links, so a link or a {@code ..} cannot hide an input.
 */
public final class OutputCheck {
    private record Input(String role, Path path) {
    }

    private final Path out;
    private final String name;
    private final List<Input> inputs = new ArrayList<>();

    private OutputCheck(Path out, String name) {
        this.out = out;
        this.name = name;
    }

    /**
     * @param out  the output path as the user gave it
     * @param name how the user named it, for messages ("OUT_DIR", "--out-path", "output_dir")
     */
    public static OutputCheck of(Path out, String name) {
        return new OutputCheck(out, name);
    }

    /** Something the job reads, e.g. {@code reads("the base model", dir)}; null or missing paths are skipped. */
    public OutputCheck reads(String role, Path path) {
        if (path != null) {
            inputs.add(new Input(role, path));
        }
        return this;
    }

    public OutputCheck reads(String role, Collection<Path> paths) {
        paths.forEach(p -> reads(role, p));
        return this;
    }

    /** Checks an output directory; returns it absolute. {@code notes} receives one line per stale staging removed. */
    public Path directory(boolean overwrite, Consumer<String> notes) {
        Path abs = checkDirectory(overwrite);
        for (Path stale : StagedDirectory.removeStale(abs)) {
            notes.accept("note: removed " + stale + ", a staging directory left by an interrupted run");
        }
        return abs;
    }

    /**
     * The checks of {@link #directory} without touching anything (for dry runs, which must refuse what the real run
     * would refuse); returns the directory absolute.
     */
    public Path checkDirectory(boolean overwrite) {
        Path abs = absolute();
        if (Files.exists(abs) && !Files.isDirectory(abs)) {
            throw new CrucibleException(describe() + " exists and is not a directory");
        }
        Path real = checkNotAnInput(abs);
        if (Files.isDirectory(abs)) {
            List<String> entries = userEntries(abs);
            if (!entries.isEmpty() && !overwrite) {
                throw new CrucibleException(describe() + " exists and is not empty (" + preview(entries)
                        + "); pass --overwrite to write into it (files of the same name and earlier weight files are "
                        + "replaced, other files kept), or choose a new directory");
            }
        }
        checkWritable(abs, real);
        return abs;
    }

    /** Checks an output file; returns it absolute. */
    public Path file(boolean overwrite) {
        Path abs = absolute();
        if (Files.isDirectory(abs)) {
            throw new CrucibleException(describe() + " is a directory; give a file name");
        }
        Path real = checkNotAnInput(abs);
        if (Files.exists(abs) && !overwrite) {
            throw new CrucibleException(describe() + " exists; pass --overwrite to replace it, or choose another name");
        }
        checkWritable(abs, real);
        return abs;
    }

    private Path absolute() {
        Path abs = out.toAbsolutePath().normalize();
        if (Files.isSymbolicLink(abs) && !Files.exists(abs)) {
            throw new CrucibleException(describe() + " is a symbolic link to something that does not exist ("
                    + readLink(abs) + "); create it or remove the link");
        }
        return abs;
    }

    /** Refuses an output that is, contains or lies inside an input; returns the output's real path. */
    private Path checkNotAnInput(Path abs) {
        Path real = realPath(abs);
        for (Input in : inputs) {
            if (!Files.exists(in.path())) {
                continue; // the job reports a missing input itself
            }
            Path input = realPath(in.path().toAbsolutePath().normalize());
            String what = in.role() + " " + in.path();
            if (real.equals(input)) {
                throw new CrucibleException(describe() + " is " + what + "; writing there would destroy it: choose "
                        + "a new directory");
            }
            if (input.startsWith(real)) {
                throw new CrucibleException(describe() + " contains " + what + "; writing there could replace it: "
                        + "choose a new directory");
            }
            if (real.startsWith(input)) {
                throw new CrucibleException(describe() + " is inside " + what + "; choose a directory outside it");
            }
        }
        return real;
    }

    /** The path with every symbolic link resolved, also for a path whose last components do not exist yet. */
    private static Path realPath(Path abs) {
        Path existing = abs;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing == null) {
            return abs;
        }
        try {
            return existing.toRealPath().resolve(existing.relativize(abs)).normalize();
        } catch (IOException e) {
            throw new CrucibleException(existing + ": cannot resolve: " + e.getMessage(), e);
        }
    }

    private void checkWritable(Path abs, Path real) {
        Path existing = real;
        while (!Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (!Files.isDirectory(existing) && !existing.equals(real)) {
            throw new CrucibleException(describe() + ": " + existing + " is not a directory");
        }
        Path dir = Files.isDirectory(existing) ? existing : existing.getParent();
        if (!Files.isWritable(dir)) {
            throw new CrucibleException(describe() + ": " + dir + " is not writable");
        }
    }

    /** The entries of an existing output the user may care about: all but this class's staging directories. */
    private static List<String> userEntries(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> !StagedDirectory.isStaging(n)).sorted().toList();
        } catch (IOException e) {
            throw new CrucibleException(dir + ": cannot list: " + e.getMessage(), e);
        }
    }

    private static String preview(List<String> entries) {
        int shown = Math.min(3, entries.size());
        String list = String.join(", ", entries.subList(0, shown));
        return entries.size() > shown ? list + " and " + (entries.size() - shown) + " more" : list;
    }

    private String describe() {
        return name + " " + out;
    }

    private static String readLink(Path link) {
        try {
            return Files.readSymbolicLink(link).toString();
        } catch (IOException e) {
            return "?";
        }
    }
}
