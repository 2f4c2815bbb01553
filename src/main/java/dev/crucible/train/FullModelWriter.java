package dev.crucible.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.crucible.CrucibleException;
import dev.crucible.io.ModelConfig;
import dev.crucible.io.ModelDirectory;
import dev.crucible.io.ShardedWriter;
import dev.crucible.io.TensorSpec;
import dev.crucible.autograd.Parameter;
import dev.crucible.peft.LoraMerge;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Writes fully fine-tuned weights as a Hugging Face model directory in the base model's dtype. */
final class FullModelWriter {
    private FullModelWriter() {
    }

    static void write(ModelDirectory base, ModelConfig config, List<Parameter> parameters, Path dir) throws IOException {
        DType dtype = config.dtype() == null ? DType.F32 : config.dtype();
        List<TensorSpec> specs = new ArrayList<>();
        for (Parameter p : parameters) {
            specs.add(new TensorSpec(p.name(), dtype, p.shape()));
        }
        ShardedWriter writer = new ShardedWriter(dir, specs, LoraMerge.MAX_SHARD_BYTES, Map.of("format", "pt"));
        try (writer) {
            for (Parameter p : parameters) {
                writer.write(p.name(), Tensor.fromFloats(dtype, p.data(), p.shape()));
            }
            writer.finish();
        }
        Files.writeString(dir.resolve(ModelDirectory.CONFIG),
                new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(config.json()) + "\n");
        Path generation = base.path().resolve(ModelDirectory.GENERATION_CONFIG);
        if (Files.isRegularFile(generation)) {
            Files.copy(generation, dir.resolve(ModelDirectory.GENERATION_CONFIG), StandardCopyOption.REPLACE_EXISTING);
        }
        if (!Files.isRegularFile(dir.resolve("model.safetensors")) && !Files.isRegularFile(dir.resolve("model.safetensors.index.json"))) {
            throw new CrucibleException(dir + ": no weights were written");
        }
    }
}
