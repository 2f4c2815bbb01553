package dev.crucible.train;

import dev.crucible.io.SafetensorsWriter;
import dev.crucible.tensor.Tensor;

import java.nio.file.Path;
import java.util.Map;

/** {@code dir/fileName} form of {@link SafetensorsWriter#write}, as the trainer's checkpoint code calls it. */
final class SafetensorsFiles {
    private SafetensorsFiles() {
    }

    /** Writes {@code tensors} (in map order) to {@code dir/fileName} with {@code format: pt} metadata. */
    static void write(Path dir, String fileName, Map<String, Tensor> tensors) {
        SafetensorsWriter.write(dir.resolve(fileName), tensors);
    }
}
