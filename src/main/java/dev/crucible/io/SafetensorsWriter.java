package dev.crucible.io;

import dev.crucible.CrucibleException;
import dev.crucible.tensor.Tensor;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Writes one safetensors file (a single shard of {@link ShardedWriter}, {@code format: pt} metadata, no index)
 * through a temporary sibling, renamed into place only once complete.
 */
public final class SafetensorsWriter {
    private SafetensorsWriter() {
    }

    /** Writes {@code tensors} (in map order) to {@code file}, replacing it only after everything is written. */
    public static void write(Path file, Map<String, Tensor> tensors) {
        Path target = file.toAbsolutePath().normalize();
        Path parent = target.getParent();
        Path staging;
        try {
            Files.createDirectories(parent);
            staging = Files.createTempDirectory(parent, "." + target.getFileName() + ".tmp-");
        } catch (IOException e) {
            throw new CrucibleException(parent + ": cannot write there: " + e.getMessage(), e);
        }
        try {
            List<TensorSpec> specs = new ArrayList<>();
            tensors.forEach((name, t) -> specs.add(new TensorSpec(name, t.dtype(), t.shape())));
            Path written;
            try (ShardedWriter writer = new ShardedWriter(staging, specs, Long.MAX_VALUE, Map.of("format", "pt"))) {
                tensors.forEach(writer::write);
                written = writer.finish().getFirst();
            }
            try {
                Files.move(written, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(written, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new CrucibleException(target + ": cannot write: " + e.getMessage(), e);
        } finally {
            StagedDirectory.deleteQuietly(staging);
        }
    }
}
