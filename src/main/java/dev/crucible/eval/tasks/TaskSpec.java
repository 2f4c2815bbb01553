package dev.crucible.eval.tasks;

import java.nio.file.Path;

/**
 * A task ready to load its data: its validated config and the file it came from (relative data files are looked
 * up next to it when they are not found from the working directory).
 */
public record TaskSpec(TaskConfig config, Path file) {
    public String name() {
        return config.name();
    }

    /** The directory relative paths of the task file resolve against; the working directory for inline tasks. */
    public Path baseDir() {
        return file == null ? Path.of("") : file.toAbsolutePath().getParent();
    }
}
