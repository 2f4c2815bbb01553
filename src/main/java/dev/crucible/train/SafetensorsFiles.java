package dev.crucible.train;

import dev.crucible.CrucibleException;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.ShardedWriter;
import dev.crucible.io.TensorSpec;
import dev.crucible.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Writes one safetensors file of a given name (adapter weights, optimiser state) through the sharded writer. */
final class SafetensorsFiles {
    private SafetensorsFiles() {
    }

    /** Writes {@code tensors} (in map order) to {@code dir/fileName} with {@code format: pt} metadata. */
    static void write(Path dir, String fileName, Map<String, Tensor> tensors) {
        List<TensorSpec> specs = new ArrayList<>();
        tensors.forEach((n, t) -> specs.add(new TensorSpec(n, t.dtype(), t.shape())));
        Path tmp = dir.resolve("." + fileName + ".tmp");
        try {
            Files.createDirectories(tmp);
            ShardedWriter writer = new ShardedWriter(tmp, specs, Long.MAX_VALUE, Map.of("format", "pt"));
            try (writer) {
                tensors.forEach(writer::write);
                writer.finish();
            }
            Files.move(tmp.resolve(Checkpoint.SINGLE_FILE), dir.resolve(fileName), StandardCopyOption.REPLACE_EXISTING);
            Files.delete(tmp);
        } catch (IOException e) {
            throw new CrucibleException(dir.resolve(fileName) + ": cannot write: " + e.getMessage(), e);
        }
    }
}
