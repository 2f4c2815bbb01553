package dev.crucible.gguf;

import dev.crucible.CrucibleException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The GGUF reader and writer: a round trip, and clear errors for every kind of damaged or hostile file. */
class GgufFileTest {
    @TempDir
    Path tmp;

    @Test
    void writerOutputReadsBackWithMetadataOrderTypesAndData() throws IOException {
        GgufMetadata kv = new GgufMetadata()
                .put("general.architecture", GgufValue.string("llama"))
                .put("llama.block_count", GgufValue.uint32(3))
                .put("x.f", GgufValue.float32(0.5f))
                .put("x.tokens", GgufValue.strings(List.of("a", "é", "🦙")))
                .put("x.types", GgufValue.integers(GgufValueType.INT32, new long[] {1, -2, 3}))
                .put("x.b", GgufValue.bool(true));
        Path out = tmp.resolve("m.gguf");
        byte[] data = new byte[34 * 2];
        new LegacyQuants.Q8_0().quantize(floats(64), 0, 64, data, 0);
        try (GgufWriter w = GgufWriter.create(out, kv, List.of(new GgufWriter.Tensor("a.weight", new long[] {3}, GgmlType.F32),
                new GgufWriter.Tensor("b.weight", new long[] {32, 2}, GgmlType.Q8_0)))) {
            w.write("b.weight", MemorySegment.ofArray(data));
            w.write("a.weight", MemorySegment.ofArray(new float[] {1, 2, 3}));
            w.finish(false);
        }
        try (GgufFile f = GgufFile.open(out)) {
            assertEquals(List.copyOf(kv.entries().keySet()), List.copyOf(f.metadata().entries().keySet()));
            assertEquals(kv.entries(), f.metadata().entries());
            assertEquals(List.of("a.weight", "b.weight"), List.copyOf(f.tensors().keySet()));
            assertEquals(0, f.tensor("a.weight").offset());
            assertEquals(32, f.tensor("b.weight").offset()); // 12 bytes padded to the alignment
            assertArrayEquals(data, f.data(f.tensor("b.weight")).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            assertEquals(f.dataStart() + 32 + 96, Files.size(out)); // the last tensor is padded too
        }
    }

    @Test
    void anUnfinishedWriterLeavesNothingBehind() throws IOException {
        Path out = tmp.resolve("partial.gguf");
        try (GgufWriter w = GgufWriter.create(out, new GgufMetadata(), List.of(
                new GgufWriter.Tensor("a.weight", new long[] {3}, GgmlType.F32)))) {
            assertThrows(IllegalStateException.class, () -> w.finish(false));
        }
        try (var s = Files.list(tmp)) {
            assertEquals(List.of(), s.toList());
        }
    }

    private static float[] floats(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) Math.sin(i * 0.37) * (i % 7 + 1);
        }
        return v;
    }

    // ------------------------------------------------------------------------------------ damaged files

    /** A hand-built GGUF: one u32 metadata entry, one F32 tensor of 4 values at offset 0. */
    private static final class Builder {
        long magic = GgufWriter.MAGIC;
        long version = 3;
        long tensorCount = 1;
        long kvCount = 1;
        long valueType = GgufValueType.UINT32.id;
        long ggmlType = GgmlType.F32.id;
        long offset = 0;
        long dim0 = 4;
        long nDims = 1;
        byte[] key = "general.x".getBytes(StandardCharsets.UTF_8);
        int dataBytes = 16;

        byte[] build() {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            u32(out, magic);
            u32(out, version);
            u64(out, tensorCount);
            u64(out, kvCount);
            u64(out, key.length);
            out.writeBytes(key);
            u32(out, valueType);
            u32(out, 7);
            u64(out, "t.weight".length());
            out.writeBytes("t.weight".getBytes(StandardCharsets.UTF_8));
            u32(out, nDims);
            u64(out, dim0);
            u32(out, ggmlType);
            u64(out, offset);
            while (out.size() % 32 != 0) {
                out.write(0);
            }
            out.writeBytes(new byte[dataBytes]);
            return out.toByteArray();
        }

        private static void u32(ByteArrayOutputStream o, long v) {
            o.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) v).array());
        }

        private static void u64(ByteArrayOutputStream o, long v) {
            o.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array());
        }
    }

    private String error(byte[] bytes) throws IOException {
        Path f = tmp.resolve("bad.gguf");
        Files.write(f, bytes);
        CrucibleException e = assertThrows(CrucibleException.class, () -> GgufFile.open(f).close());
        assertTrue(e.getMessage().startsWith(f.toString() + ": "), e.getMessage());
        return e.getMessage();
    }

    @Test
    void theHandBuiltFileIsValid() throws IOException {
        Path f = tmp.resolve("ok.gguf");
        Files.write(f, new Builder().build());
        try (GgufFile g = GgufFile.open(f)) {
            assertEquals(7, g.metadata().get("general.x").asLong());
            assertArrayEquals(new long[] {4}, g.tensor("t.weight").dims());
        }
    }

    @Test
    void truncatedTensorDataIsRefused() throws IOException {
        byte[] ok = new Builder().build();
        assertTrue(error(Arrays.copyOf(ok, ok.length - 1)).contains("runs past the end of the file"));
    }

    @Test
    void truncatedHeaderIsRefused() throws IOException {
        byte[] ok = new Builder().build();
        assertTrue(error(Arrays.copyOf(ok, 30)).contains("more than 6 remaining bytes can hold"));
        assertTrue(error(Arrays.copyOf(ok, 60)).contains("truncated: tensor name 0 needs 8 bytes at offset 57"));
        assertTrue(error(new byte[0]).contains("truncated"));
    }

    @Test
    void misalignedOffsetIsRefused() throws IOException {
        Builder b = new Builder();
        b.offset = 4;
        assertTrue(error(b.build()).contains("not a multiple of the alignment 32"));
    }

    @Test
    void unknownTensorTypeIsRefused() throws IOException {
        Builder b = new Builder();
        b.ggmlType = 99;
        assertTrue(error(b.build()).contains("unknown ggml type 99"));
    }

    @Test
    void unknownValueTypeIsRefused() throws IOException {
        Builder b = new Builder();
        b.valueType = 13;
        assertTrue(error(b.build()).contains("unknown value type 13"));
    }

    @Test
    void hugeCountsAreRefusedBeforeAnyAllocation() throws IOException {
        Builder b = new Builder();
        b.tensorCount = 1L << 40;
        assertTrue(error(b.build()).contains("claims 1099511627776 tensors"));
        Builder k = new Builder();
        k.kvCount = -1; // 2^64 - 1 unsigned
        assertTrue(error(k.build()).contains("claims 18446744073709551615 metadata entries"));
    }

    @Test
    void hugeDimensionsAreRefused() throws IOException {
        Builder b = new Builder();
        b.dim0 = Long.MAX_VALUE / 2;
        assertTrue(error(b.build()).contains("runs past the end"));
        Builder d = new Builder();
        d.nDims = 5;
        assertTrue(error(d.build()).contains("has 5 dimensions"));
    }

    @Test
    void partialBlocksAreRefused() throws IOException {
        Builder b = new Builder();
        b.ggmlType = GgmlType.Q8_0.id;
        assertTrue(error(b.build()).contains("not a whole number of Q8_0 blocks"));
    }

    @Test
    void wrongMagicAndVersionAreRefused() throws IOException {
        Builder b = new Builder();
        b.magic = 0x12345678;
        assertTrue(error(b.build()).contains("not a GGUF file"));
        Builder v = new Builder();
        v.version = 1;
        assertTrue(error(v.build()).contains("GGUF version 1 is not supported"));
    }

    @Test
    void invalidUtf8KeyIsRefused() throws IOException {
        Builder b = new Builder();
        b.key = new byte[] {(byte) 0xC3, (byte) 0x28};
        assertTrue(error(b.build()).contains("not valid UTF-8"));
    }

    @Test
    void isGguf() throws IOException {
        Path f = tmp.resolve("x.gguf");
        Files.write(f, new Builder().build());
        assertTrue(GgufFile.isGguf(f));
        assertFalse(GgufFile.isGguf(tmp));
    }
}
