package dev.crucible.io;

import dev.crucible.CrucibleException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Each broken file is refused with a message that names the file and says what is wrong with it. */
class MalformedSafetensorsTest {
    static final Path LLAMA = Path.of("testdata/hf/models/llama/model.safetensors");

    /** A file with {@code header} as its JSON header and {@code dataBytes} zero bytes of data. */
    static byte[] file(String header, int dataBytes) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(h.length).put(h).array();
    }

    static byte[] rawHeader(long declaredLength, byte[] rest) {
        return ByteBuffer.allocate(8 + rest.length).order(ByteOrder.LITTLE_ENDIAN).putLong(declaredLength).put(rest)
                .array();
    }

    static byte[] truncatedLlama() {
        try {
            byte[] all = Files.readAllBytes(LLAMA);
            return Arrays.copyOf(all, all.length - 1000);
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    static Stream<Arguments> brokenFiles() {
        String a = "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";
        return Stream.of(
                Arguments.of("truncated data", truncatedLlama(), "run past the end of the data"),
                Arguments.of("shorter than 8 bytes", new byte[] {1, 2, 3}, "shorter than the 8-byte header length"),
                Arguments.of("header length past end of file", rawHeader(1000, "{}".getBytes()),
                        "header length 1000 runs past the end of the file"),
                Arguments.of("header length over the cap", rawHeader(1L << 40, new byte[8]), "exceeds the limit"),
                Arguments.of("header not JSON", file("{\"a\": {\"dtype\": ", 0), "header is not valid JSON"),
                Arguments.of("header not an object", file("[1, 2, 3]", 0), "header must be a JSON object"),
                Arguments.of("header not UTF-8", rawHeader(4, new byte[] {'{', (byte) 0xC3, '}', ' '}),
                        "header is not valid UTF-8"),
                Arguments.of("offsets overlap", file("{" + a
                        + ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "overlap"),
                Arguments.of("offsets out of bounds", file("{" + a
                        + ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 12),
                        "tensor 'b' data_offsets [8, 16] run past the end of the data (12 bytes"),
                Arguments.of("hole between tensors", file("{" + a
                        + ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", 20),
                        "tensor 'b' starts at 12 leaving a hole after 8"),
                Arguments.of("trailing bytes", file("{" + a + "}", 12), "data section is 12 bytes but tensors cover 8"),
                Arguments.of("byte length not matching shape",
                        file("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8),
                        "tensor 'a' of F32[3] needs 12 bytes but data_offsets [0, 8] span 8"),
                Arguments.of("unknown dtype",
                        file("{\"a\":{\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[0,1]}}", 1),
                        "tensor 'a' has unknown dtype 'F4'"),
                Arguments.of("duplicate tensor name", file("{" + a + "," + a + "}", 8),
                        "duplicate entry: Duplicate field 'a'"),
                Arguments.of("non-string metadata value", file("{\"__metadata__\":{\"format\":1}," + a + "}", 8),
                        "__metadata__ value of 'format' must be a string, found number"),
                Arguments.of("negative shape",
                        file("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8),
                        "tensor 'a' has an invalid shape [-2]"),
                Arguments.of("offsets not integers",
                        file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,\"8\"]}}", 8),
                        "tensor 'a' needs data_offsets [begin, end] as two integers"),
                Arguments.of("entry not an object", file("{\"a\": 5}", 0), "tensor 'a' must be an object"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("brokenFiles")
    void brokenFileIsRefusedNamingFileAndProblem(String what, byte[] content, String problem, @TempDir Path tmp)
            throws IOException {
        Path f = tmp.resolve("broken.safetensors");
        Files.write(f, content);
        CrucibleException e = assertThrows(CrucibleException.class, () -> SafetensorsFile.open(f), what);
        assertTrue(e.getMessage().startsWith(f + ": invalid safetensors file: "), e.getMessage());
        assertTrue(e.getMessage().contains(problem), what + ": " + e.getMessage());
    }

    @Test
    void validEdgeCasesOpen(@TempDir Path tmp) throws IOException {
        // no tensors at all, and an empty tensor at the end of the data
        Path f = tmp.resolve("edge.safetensors");
        Files.write(f, file("{\"__metadata__\":{\"format\":\"pt\"}}", 0));
        try (SafetensorsFile sf = SafetensorsFile.open(f)) {
            assertEquals(0, sf.tensors().size());
        }
        Files.write(f, file("{\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                + "\"e\":{\"dtype\":\"I64\",\"shape\":[0,7],\"data_offsets\":[4,4]},"
                + "\"s\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[4,5]}}", 5));
        try (SafetensorsFile sf = SafetensorsFile.open(f)) {
            assertEquals(0, sf.tensor("e").numel());
            assertEquals(1, sf.tensor("s").numel());
        }
    }

    /** A sharded checkpoint directory with llama_sharded's index and shards, broken by {@code edit}. */
    private static Path shardedCopy(Path tmp) throws IOException {
        Path src = Path.of("testdata/hf/models/llama_sharded");
        Path dir = tmp.resolve("model");
        Files.createDirectories(dir);
        try (Stream<Path> s = Files.list(src)) {
            for (Path p : s.toList()) {
                Files.copy(p, dir.resolve(p.getFileName().toString()));
            }
        }
        return dir;
    }

    @Test
    void indexNamingAMissingShard(@TempDir Path tmp) throws IOException {
        Path dir = shardedCopy(tmp);
        Files.delete(dir.resolve("model-00003-of-00005.safetensors"));
        CrucibleException e = assertThrows(CrucibleException.class, () -> Checkpoint.open(dir));
        assertTrue(e.getMessage().startsWith(dir.resolve(Checkpoint.INDEX_FILE) + ": tensor '"), e.getMessage());
        assertTrue(e.getMessage().contains("is mapped to shard 'model-00003-of-00005.safetensors', which does not exist"),
                e.getMessage());
    }

    @Test
    void indexMappingATensorToTheWrongShard(@TempDir Path tmp) throws IOException {
        Path dir = shardedCopy(tmp);
        Path index = dir.resolve(Checkpoint.INDEX_FILE);
        Files.writeString(index, Files.readString(index).replace(
                "\"lm_head.weight\": \"model-00005-of-00005.safetensors\"",
                "\"lm_head.weight\": \"model-00001-of-00005.safetensors\""));
        CrucibleException e = assertThrows(CrucibleException.class, () -> Checkpoint.open(dir));
        assertEquals(index + ": tensor 'lm_head.weight' is mapped to model-00001-of-00005.safetensors but that "
                + "shard does not hold it", e.getMessage());
    }

    @Test
    void indexShardEscapingTheDirectory(@TempDir Path tmp) throws IOException {
        Path dir = shardedCopy(tmp);
        Path index = dir.resolve(Checkpoint.INDEX_FILE);
        Files.copy(dir.resolve("model-00005-of-00005.safetensors"), tmp.resolve("outside.safetensors"));
        Files.writeString(index, Files.readString(index).replace(
                "\"lm_head.weight\": \"model-00005-of-00005.safetensors\"",
                "\"lm_head.weight\": \"../outside.safetensors\""));
        CrucibleException e = assertThrows(CrucibleException.class, () -> Checkpoint.open(dir));
        assertTrue(e.getMessage().contains("'../outside.safetensors', which is not a file name inside the model directory"), e.getMessage());
    }

    @Test
    void indexNotJsonOrWithoutWeightMap(@TempDir Path tmp) throws IOException {
        Path dir = shardedCopy(tmp);
        Path index = dir.resolve(Checkpoint.INDEX_FILE);
        Files.writeString(index, "{\"metadata\": {}, ");
        CrucibleException e = assertThrows(CrucibleException.class, () -> Checkpoint.open(dir));
        assertTrue(e.getMessage().startsWith(index + ": not valid JSON"), e.getMessage());
        Files.writeString(index, "{\"metadata\": {}}");
        e = assertThrows(CrucibleException.class, () -> Checkpoint.open(dir));
        assertEquals(index + ": missing the 'weight_map' object", e.getMessage());
    }

    @Test
    void brokenShardIsNamedThroughTheCheckpoint(@TempDir Path tmp) throws IOException {
        Path dir = shardedCopy(tmp);
        Path shard = dir.resolve("model-00002-of-00005.safetensors");
        byte[] all = Files.readAllBytes(shard);
        Files.write(shard, Arrays.copyOf(all, all.length - 2));
        CrucibleException e = assertThrows(CrucibleException.class, () -> Checkpoint.open(dir));
        assertTrue(e.getMessage().startsWith(shard + ": invalid safetensors file: "), e.getMessage());
    }
}
