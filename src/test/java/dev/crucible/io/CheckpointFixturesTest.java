package dev.crucible.io;

import dev.crucible.tensor.DType;
import dev.crucible.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class CheckpointFixturesTest {
    static final Path MODELS = Path.of("testdata/hf/models");

    @Test
    void shardedLlamaHoldsTheSameBitsAsSingleFileLlama() {
        try (Checkpoint single = Checkpoint.open(MODELS.resolve("llama"));
             Checkpoint sharded = Checkpoint.open(MODELS.resolve("llama_sharded"))) {
            assertEquals(5, sharded.shards().size());
            assertEquals(single.names().stream().sorted().toList(), sharded.names().stream().sorted().toList());
            for (String name : single.names()) {
                Tensor a = single.tensor(name);
                Tensor b = sharded.tensor(name);
                assertEquals(DType.BF16, a.dtype());
                assertArrayEquals(a.shape(), b.shape(), name);
                assertArrayEquals(a.data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE),
                        b.data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), name);
            }
            assertEquals(408448, sharded.totalBytes());
        }
    }
}
