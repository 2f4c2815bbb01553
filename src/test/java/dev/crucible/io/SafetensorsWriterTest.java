package dev.crucible.io;

import dev.crucible.tensor.DType;
import dev.crucible.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class SafetensorsWriterTest {
    @Test
    void roundTripsHeapTensorsAndReplacesTheFileLeavingNoTemporaries(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("sub/out.safetensors");
        Files.createDirectories(file.getParent());
        Files.writeString(file, "old contents");
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("b", Tensor.fromFloats(DType.BF16, new float[] {1.5f, -2f, 0.25f}, 3));
        tensors.put("a", Tensor.ofFloats(new float[] {1, 2, 3, 4, 5, 6}, 2, 3));
        SafetensorsWriter.write(file, tensors);

        try (SafetensorsFile got = SafetensorsFile.open(file)) {
            assertEquals(List.of("b", "a"), List.copyOf(got.tensors().keySet()));
            assertEquals(Map.of("format", "pt"), got.metadata());
            assertEquals(DType.BF16, got.tensor("b").dtype());
            assertArrayEquals(new float[] {1.5f, -2f, 0.25f}, got.tensor("b").toFloatArray());
            assertArrayEquals(new long[] {2, 3}, got.tensor("a").shape());
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, got.tensor("a").toFloatArray());
        }
        try (var files = Files.list(file.getParent())) {
            assertEquals(List.of(file), files.toList());
        }
    }
}
