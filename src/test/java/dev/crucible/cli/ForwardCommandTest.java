package dev.crucible.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.SafetensorsFile;
import dev.crucible.io.SafetensorsWriter;
import dev.crucible.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ForwardCommandTest {
    static final Path QWEN2 = Path.of("testdata/hf/models/qwen2");

    @Test
    void forwardWritesTheReferenceLogitsAndHiddenStates(@TempDir Path tmp) {
        Path in = tmp.resolve("in.safetensors");
        Path out = tmp.resolve("out.safetensors");
        try (SafetensorsFile ref = SafetensorsFile.open(QWEN2.resolve("reference.safetensors"))) {
            SafetensorsWriter.write(in, Map.of("input_ids", ref.tensor("input_ids")));
            CliRun r = CliRun.of("forward", QWEN2.toString(), "--input", in.toString(), "--out", out.toString(),
                    "--hidden-states");
            assertEquals(0, r.exitCode(), r.err());
            try (SafetensorsFile got = SafetensorsFile.open(out)) {
                assertEquals(5, got.tensors().size()); // logits + hidden_states.0..3
                for (String name : new String[] {"logits", "hidden_states.0", "hidden_states.3"}) {
                    Tensor g = got.tensor(name);
                    assertArrayEquals(ref.tensor(name).shape(), g.shape(), name);
                    float[] a = g.toFloatArray(), b = ref.tensor(name).toFloatArray();
                    double maxDiff = 0, maxRef = 0;
                    for (int i = 0; i < a.length; i++) {
                        maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
                        maxRef = Math.max(maxRef, Math.abs(b[i]));
                    }
                    assertTrue(maxDiff / maxRef < 1e-5, name + " " + maxDiff / maxRef);
                }
            }
        }
        try (var files = list(tmp)) {
            assertEquals(2, files.count(), "no temporary files left behind");
        }
    }

    static java.util.stream.Stream<Path> list(Path dir) {
        try {
            return Files.list(dir);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void inputWithoutInputIdsIsNamed(@TempDir Path tmp) {
        Path in = tmp.resolve("in.safetensors");
        SafetensorsWriter.write(in, Map.of("tokens", Tensor.ofFloats(new float[] {1, 2}, 1, 2)));
        CliRun r = CliRun.of("forward", QWEN2.toString(), "--input", in.toString(), "--out", tmp.resolve("o.safetensors").toString());
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("'input_ids'"), r.err());
        assertFalse(Files.exists(tmp.resolve("o.safetensors")));
    }

    /** A copy of the qwen2 fixture with one tensor left out and/or the config edited. */
    static Path brokenCopy(Path tmp, String dropTensor, String configKey, Object configValue) throws IOException {
        Path dir = tmp.resolve("model");
        Files.createDirectories(dir);
        ObjectNode config = (ObjectNode) new ObjectMapper().readTree(QWEN2.resolve("config.json").toFile());
        if (configKey != null) {
            config.putPOJO(configKey, configValue);
        }
        Files.writeString(dir.resolve("config.json"), config.toString());
        try (Checkpoint c = Checkpoint.open(QWEN2)) {
            Map<String, Tensor> kept = new LinkedHashMap<>();
            for (String name : c.names()) {
                if (!name.equals(dropTensor)) {
                    kept.put(name, c.tensor(name));
                }
            }
            SafetensorsWriter.write(dir.resolve("model.safetensors"), kept);
        }
        return dir;
    }

    static CliRun forwardOn(Path tmp, Path model) {
        Path in = tmp.resolve("in.safetensors");
        SafetensorsWriter.write(in, Map.of("input_ids", Tensor.fromFloats(dev.crucible.tensor.DType.I64,
                new float[] {1, 2, 3}, 1, 3)));
        return CliRun.of("forward", model.toString(), "--input", in.toString(), "--out", tmp.resolve("o.safetensors").toString());
    }

    @Test
    void missingTensorIsNamed(@TempDir Path tmp) throws IOException {
        CliRun r = forwardOn(tmp, brokenCopy(tmp, "model.layers.1.self_attn.k_proj.bias", null, null));
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("missing tensor 'model.layers.1.self_attn.k_proj.bias'"), r.err());
        assertFalse(r.err().contains("Exception"), r.err());
    }

    @Test
    void wrongShapeIsNamedWithTheExpectedShape(@TempDir Path tmp) throws IOException {
        CliRun r = forwardOn(tmp, brokenCopy(tmp, null, "intermediate_size", 128));
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("'model.layers.0.mlp.gate_proj.weight' has shape [160, 64], expected [128, 64]"),
                r.err());
    }

    @Test
    void unknownModelTypeIsNamed(@TempDir Path tmp) throws IOException {
        CliRun r = forwardOn(tmp, brokenCopy(tmp, null, "model_type", "llama9"));
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("unknown model_type 'llama9'"), r.err());
    }
}
