package dev.crucible.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.PythonInterop;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Shape;
import dev.crucible.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Tensors of every dtype, scalar and empty ones included, written across shards and read back bit for bit. */
class ShardedRoundTripTest {
    private static final long SHARD_LIMIT = 700;

    /** Three tensors per dtype: a matrix of random bits, a 0-d scalar and an empty tensor. */
    static Map<String, Tensor> tensorsOfEveryDtype() {
        SplittableRandom r = new SplittableRandom(42);
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (DType t : DType.values()) {
            for (long[] shape : new long[][] {{5, 13}, {}, {0, 3}}) {
                byte[] bytes = new byte[(int) (Shape.numel(shape) * t.byteSize())];
                for (int i = 0; i < bytes.length; i++) {
                    bytes[i] = (byte) (t == DType.BOOL ? r.nextInt(2) : r.nextInt(256));
                }
                String kind = shape.length == 0 ? "scalar" : shape[0] == 0 ? "empty" : "matrix";
                out.put("layers." + t.safetensorsName().toLowerCase() + "." + kind,
                        new Tensor(t, shape, MemorySegment.ofArray(bytes)));
            }
        }
        return out;
    }

    static Path writeSharded(Path target, Map<String, Tensor> tensors, long limit) {
        List<TensorSpec> specs = new ArrayList<>();
        tensors.forEach((n, t) -> specs.add(new TensorSpec(n, t.dtype(), t.shape())));
        try (StagedDirectory out = StagedDirectory.create(target)) {
            try (ShardedWriter w = new ShardedWriter(out.path(), specs, limit, Map.of("format", "pt"))) {
                // any order, any thread: the last declared first, in parallel
                List<String> names = new ArrayList<>(tensors.keySet()).reversed();
                names.parallelStream().forEach(n -> w.write(n, tensors.get(n)));
                w.finish();
            }
            out.publish();
        }
        return target;
    }

    @Test
    void everyDtypeRoundTripsBitIdenticallyAcrossShards(@TempDir Path tmp) throws IOException {
        Map<String, Tensor> tensors = tensorsOfEveryDtype();
        Path dir = writeSharded(tmp.resolve("out"), tensors, SHARD_LIMIT);

        List<String> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.map(p -> p.getFileName().toString()).sorted().toList();
        }
        int n = files.size() - 1;
        assertTrue(n >= 3, "expected several shards, got " + files);
        for (int i = 1; i <= n; i++) {
            assertEquals(String.format("model-%05d-of-%05d.safetensors", i, n), files.get(i - 1));
        }
        assertEquals(Checkpoint.INDEX_FILE, files.get(n));
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(List.of(dir), s.toList(), "no staging directory left next to the output");
        }

        JsonNode index = new ObjectMapper().readTree(dir.resolve(Checkpoint.INDEX_FILE).toFile());
        long total = tensors.values().stream().mapToLong(Tensor::byteSize).sum();
        assertEquals(total, index.get("metadata").get("total_size").asLong());
        assertEquals(tensors.size(), index.get("weight_map").size());

        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            assertEquals(n, ckpt.shards().size());
            assertEquals(total, ckpt.totalBytes());
            for (var e : tensors.entrySet()) {
                Tensor back = ckpt.tensor(e.getKey());
                assertEquals(e.getValue().dtype(), back.dtype(), e.getKey());
                assertArrayEquals(e.getValue().shape(), back.shape(), e.getKey());
                assertArrayEquals(bytes(e.getValue()), bytes(back), e.getKey());
            }
            for (SafetensorsFile f : ckpt.shards()) {
                for (String name : f.tensors().keySet()) {
                    assertEquals(f.path().getFileName().toString(), index.get("weight_map").get(name).asText(), name);
                }
            }
            for (SafetensorsFile f : ckpt.shards()) {
                assertEquals(Map.of("format", "pt"), f.metadata());
                assertTrue(f.dataBytes() <= SHARD_LIMIT || f.tensors().size() == 1, f.path() + " over the limit");
            }
        }
        for (int i = 0; i < n; i++) {
            byte[] file = Files.readAllBytes(dir.resolve(files.get(i)));
            long headerLen = ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            assertEquals(0, headerLen % 8, "header length of " + files.get(i) + " keeps the data 8-byte aligned");
            String header = new String(file, 8, (int) headerLen, StandardCharsets.UTF_8);
            assertTrue(header.startsWith("{") && header.strip().endsWith("}"), header);
        }
    }

    @Test
    void oneShardIsASingleModelSafetensorsWithoutIndex(@TempDir Path tmp) throws IOException {
        Map<String, Tensor> tensors = tensorsOfEveryDtype();
        Path dir = writeSharded(tmp.resolve("single"), tensors, Long.MAX_VALUE);
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(Checkpoint.SINGLE_FILE), s.map(p -> p.getFileName().toString()).toList());
        }
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            assertEquals(List.copyOf(tensors.keySet()), ckpt.names()); // declaration order is file order
            for (var e : tensors.entrySet()) {
                assertArrayEquals(bytes(e.getValue()), bytes(ckpt.tensor(e.getKey())), e.getKey());
            }
        }
    }

    @Test
    void floatValuesSurviveConversionThroughEveryFloatDtype(@TempDir Path tmp) {
        float[] values = {0f, -0f, 1f, -2.5f, 0.1f, 3.14159f, 65504f, 1e-3f, -448f, Float.POSITIVE_INFINITY};
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (DType t : List.of(DType.F32, DType.F16, DType.BF16, DType.F64, DType.F8_E5M2)) {
            tensors.put(t.name(), Tensor.fromFloats(t, values, 2, 5));
        }
        Path dir = writeSharded(tmp.resolve("floats"), tensors, 64);
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            for (var e : tensors.entrySet()) {
                assertArrayEquals(e.getValue().toFloatArray(), ckpt.tensor(e.getKey()).toFloatArray(), e.getKey());
            }
            assertArrayEquals(values, ckpt.tensor("F32").toFloatArray());
            assertEquals(0.10009765625f, ckpt.tensor("BF16").getFloat(4)); // 0.1f = 0x3DCCCCCD rounds up to 0x3DCD
        }
    }

    /**
     * Optional interop check: Python's safetensors (through torch when it is installed) loads our shards and
     * sees the same names, dtypes, shapes and bytes. Skipped where no such Python exists (CI has none);
     * point CRUCIBLE_PYTHON at a virtualenv's python to run it.
     */
    @Test
    void pythonSafetensorsLoadsTheShards(@TempDir Path tmp) throws Exception {
        PythonInterop.assumeModules("safetensors");

        Map<String, Tensor> tensors = tensorsOfEveryDtype();
        Path dir = writeSharded(tmp.resolve("py"), tensors, SHARD_LIMIT);
        String script = """
                import glob, hashlib, json, sys
                try:
                    import torch
                    from safetensors.torch import load_file
                except ImportError:
                    torch = None
                    from safetensors import deserialize
                for f in sorted(glob.glob(sys.argv[1] + '/*.safetensors')):
                    if torch is not None:
                        for name, t in load_file(f).items():
                            raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b''
                            print(name, str(t.dtype).replace('torch.', ''), list(t.shape), hashlib.sha256(raw).hexdigest())
                    else:
                        for name, t in deserialize(open(f, 'rb').read()):
                            print(name, t['dtype'], list(t['shape']), hashlib.sha256(bytes(t['data'])).hexdigest())
                """;
        Path py = tmp.resolve("load.py");
        Files.writeString(py, script);
        List<String> lines = PythonInterop.runScript(py, List.of(dir.toString()), null, Duration.ofMinutes(2))
                .assertOk().out().lines().toList();
        assertEquals(tensors.size(), lines.size(), String.join("\n", lines));
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        for (String line : lines) {
            String[] p = line.split(" ", 2);
            Tensor t = tensors.get(p[0]);
            assertFalse(t == null, line);
            String digest = HexFormat.of().formatHex(sha.digest(bytes(t)));
            assertTrue(line.endsWith(" " + digest), line);
            assertTrue(line.contains(Shape.toString(t.shape())), line + " vs " + Shape.toString(t.shape()));
        }
    }

    static byte[] bytes(Tensor t) {
        return t.data().toArray(ValueLayout.JAVA_BYTE);
    }
}
