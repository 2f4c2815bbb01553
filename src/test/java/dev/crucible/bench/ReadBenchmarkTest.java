package dev.crucible.bench;

import dev.crucible.io.Checkpoint;
import dev.crucible.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The benchmark's data and plumbing on a tiny checkpoint (the timings themselves are not asserted). */
class ReadBenchmarkTest {
    @Test
    void generatesAShardedBf16CheckpointOnceAndMeasuresBothReads(@TempDir Path tmp) {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        ReadBenchmark bench = new ReadBenchmark(2, new PrintStream(log, true, StandardCharsets.UTF_8),
                new long[] {128, 64});
        Path dir = tmp.resolve("bench");
        // 5 tensors of 16 KiB, shards of at most 40 000 bytes: two tensors per shard
        ReadBenchmark.Result r = bench.run(dir, 5 * 16384, 40_000, 2);
        assertEquals(5 * 16384, r.bytes());
        assertEquals(5, r.tensors());
        assertEquals(3, r.shards());
        for (ReadBenchmark.Series s : new ReadBenchmark.Series[] {r.plain(), r.asFloat(), r.plainMapped(),
                r.floatMapped()}) {
            assertEquals(2, s.wallGbps().length);
            assertTrue(s.wallGbps()[0] > 0 && s.gbPerCpuS()[1] > 0);
        }
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertTrue(c.contains("model.layers.0.self_attn.q_proj.weight"));
            for (String name : c.names()) {
                Tensor t = c.tensor(name);
                for (float v : t.toFloatArray()) {
                    float a = Math.abs(v);
                    assertTrue(a >= 0x1p-7f && a < 2f, name + " holds " + v);
                }
            }
        }
        assertTrue(log.toString(StandardCharsets.UTF_8).contains("generating"));

        ByteArrayOutputStream again = new ByteArrayOutputStream();
        new ReadBenchmark(1, new PrintStream(again, true, StandardCharsets.UTF_8), new long[] {128, 64})
                .run(dir, 5 * 16384, 40_000, 1);
        assertTrue(again.toString(StandardCharsets.UTF_8).contains("reusing " + dir), again.toString());
    }
}
