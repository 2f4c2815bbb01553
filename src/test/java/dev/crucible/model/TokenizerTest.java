package dev.crucible.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.CrucibleException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TokenizerTest {
    static final Path TOKENIZERS = Path.of("testdata/hf/tokenizers");
    static final ObjectMapper JSON = new ObjectMapper();

    static Tokenizer byteLevel;
    static Tokenizer metaspace;

    @BeforeAll
    static void load() {
        byteLevel = Tokenizer.load(TOKENIZERS.resolve("bytelevel_bpe"));
        metaspace = Tokenizer.load(TOKENIZERS.resolve("metaspace_bpe"));
    }

    @AfterAll
    static void close() {
        byteLevel.close();
        metaspace.close();
    }

    static JsonNode reference(String name) throws IOException {
        return JSON.readTree(TOKENIZERS.resolve(name).resolve("reference.json").toFile());
    }

    static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"bytelevel_bpe", "metaspace_bpe"})
    void encodingsEqualTransformers(String name) throws IOException {
        Tokenizer tok = name.equals("bytelevel_bpe") ? byteLevel : metaspace;
        JsonNode encode = reference(name).get("encode");
        assertEquals(7, encode.size());
        for (Map.Entry<String, JsonNode> e : encode.properties()) {
            assertArrayEquals(ints(e.getValue()), tok.encode(e.getKey(), false), e.getKey());
            // the reference tokenizers add nothing with special tokens either (no BOS in the post-processor)
            assertArrayEquals(ints(e.getValue()), tok.encode(e.getKey()), e.getKey());
        }
    }

    @Test
    void batchEncodingEqualsSingleEncoding() throws IOException {
        JsonNode encode = reference("bytelevel_bpe").get("encode");
        List<String> texts = new ArrayList<>();
        encode.fieldNames().forEachRemaining(texts::add);
        List<int[]> batch = byteLevel.encodeBatch(texts, false);
        for (int i = 0; i < texts.size(); i++) {
            assertArrayEquals(ints(encode.get(texts.get(i))), batch.get(i), texts.get(i));
        }
    }

    @Test
    void byteLevelDecodeRoundTripsEqualTransformers() throws IOException {
        JsonNode ref = reference("bytelevel_bpe");
        for (Map.Entry<String, JsonNode> e : ref.get("decode_roundtrip").properties()) {
            int[] ids = ints(ref.get("encode").get(e.getKey()));
            assertEquals(e.getValue().asText(), byteLevel.decode(ids), e.getKey());
        }
    }

    @Test
    void metaspaceDecodeRoundTripsTextItCanRepresent() {
        // metaspace_bpe maps characters outside its small vocabulary to <unk>, so only covered text round trips
        for (String text : new String[] {"café 日本語 🙂🚀", "def f(x): return x * 2", "1234567890 3.14159"}) {
            int[] ids = metaspace.encode(text, false);
            assertFalse(contains(ids, metaspace.unkTokenId()), text);
            assertEquals(text, metaspace.decode(ids), text);
        }
        int[] withUnk = metaspace.encode("Hello world!", false);
        assertTrue(contains(withUnk, 0));
        assertEquals("<unk>", metaspace.idToToken(0));
    }

    static boolean contains(int[] ids, Integer id) {
        for (int i : ids) {
            if (id != null && i == id) {
                return true;
            }
        }
        return false;
    }

    @Test
    void specialTokensAreAddedTokensAndSkippedOnRequest() {
        assertEquals(Map.of("<pad>", 0, "<s>", 1, "</s>", 2, "<|im_start|>", 3, "<|im_end|>", 4),
                byteLevel.addedTokens());
        assertEquals(1, byteLevel.bosTokenId());
        assertEquals(2, byteLevel.eosTokenId());
        assertEquals(0, byteLevel.padTokenId());
        assertNull(byteLevel.unkTokenId());
        int[] ids = byteLevel.encode("<|im_start|>user\nhi<|im_end|>", false);
        assertEquals(3, ids[0]);
        assertEquals(4, ids[ids.length - 1]);
        List<String> tokens = byteLevel.tokenize("<|im_start|>user\nhi<|im_end|>", false);
        assertEquals("<|im_start|>", tokens.get(0));
        assertEquals("<|im_end|>", tokens.get(tokens.size() - 1));
        assertEquals("user\nhi", byteLevel.decode(ids, true));
        assertEquals("<|im_start|>user\nhi<|im_end|>", byteLevel.decode(ids, false));
    }

    @Test
    void vocabularyLookupsAndSizes() {
        assertEquals(504, byteLevel.baseVocabSize());
        assertEquals(504, byteLevel.size()); // the added tokens are part of the 504-entry vocab
        assertEquals(504, byteLevel.requiredEmbeddingRows());
        for (int id = 0; id < byteLevel.size(); id++) {
            String token = byteLevel.idToToken(id);
            assertEquals(id, byteLevel.tokenToId(token), token);
        }
        assertNull(byteLevel.tokenToId("not-a-token"));
        assertNull(byteLevel.idToToken(100000));
        // token strings are the model's: the space of " world" is the byte-level 'Ġ'
        List<String> tokens = byteLevel.tokenize("Hello world!", false);
        int[] ids = byteLevel.encode("Hello world!", false);
        for (int i = 0; i < ids.length; i++) {
            assertEquals(byteLevel.idToToken(ids[i]), tokens.get(i));
        }
        assertTrue(tokens.stream().anyMatch(t -> t.startsWith("Ġ")));
    }

    @Test
    void longInputIsNeverTruncated() {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; sb.length() < 12_000; i++) {
            sb.append("Paragraph ").append(i).append(": the quick brown fox jumps over the lazy dog. ");
        }
        String text = sb.toString();
        int[] plain = byteLevel.encode(text, false);
        int[] special = byteLevel.encode(text, true);
        assertTrue(plain.length > 2_000, "only " + plain.length + " tokens");
        assertArrayEquals(plain, special);
        assertArrayEquals(plain, byteLevel.encodeWithOffsets(text, false).ids());
        assertArrayEquals(plain, byteLevel.encodeBatch(List.of(text, "short"), false).get(0));
        assertEquals(plain.length, byteLevel.tokenize(text, false).size());
        assertEquals(text, byteLevel.decode(plain));
    }

    @Test
    void offsetsAreJavaStringIndices() {
        String text = "café 日本語 🙂🚀 ok";
        Tokenizer.Encoded enc = byteLevel.encodeWithOffsets(text, false);
        assertEquals(0, enc.starts()[0]);
        assertEquals(text.length(), enc.ends()[enc.length() - 1]);
        for (int i = 1; i < enc.length(); i++) {
            assertTrue(enc.starts()[i] >= enc.starts()[i - 1], "offsets go forward at " + i);
            assertTrue(enc.ends()[i] <= text.length());
        }
        // after the two emoji (4 UTF-16 chars, 2 code points) the span of "Ġo" must still point at " o"
        int o = enc.tokens().indexOf("Ġo");
        assertEquals(text.indexOf(" ok"), enc.starts()[o]);
        assertEquals(" o", text.substring(enc.starts()[o], enc.ends()[o]));
        assertEquals("k", text.substring(enc.starts()[o + 1], enc.ends()[o + 1]));
    }

    /** A hand-written Unigram (SentencePiece-style) tokenizer; expected ids from transformers 5.18. */
    @Test
    void unigramVocabularyIsAListOfPieces() {
        try (Tokenizer uni = Tokenizer.load(Path.of("src/test/resources/tokenizers/unigram"))) {
            assertEquals(5, uni.size());
            assertEquals(4, uni.tokenToId("▁ab"));
            assertEquals("▁", uni.idToToken(1));
            assertEquals(0, uni.unkTokenId());
            assertArrayEquals(new int[] {4}, uni.encode("ab"));
            assertArrayEquals(new int[] {1, 3, 2}, uni.encode("ba"));
            assertArrayEquals(new int[] {4, 1, 3, 2}, uni.encode("ab ba"));
            assertArrayEquals(new int[] {4, 0}, uni.encode("abc"));
            assertEquals("ab ba", uni.decode(new int[] {4, 1, 3, 2}));
            assertEquals("ab<unk>", uni.decode(new int[] {4, 0}));
        }
    }

    @Test
    void decodeRejectsIdsOutsideTheVocabulary() {
        CrucibleException e = assertThrows(CrucibleException.class, () -> byteLevel.decode(new int[] {5, 9999}));
        assertTrue(e.getMessage().contains("9999"), e.getMessage());
    }

    @Test
    void checkFitsModelNamesBothNumbers() {
        byteLevel.checkFitsModel(504);
        byteLevel.checkFitsModel(512);
        CrucibleException e = assertThrows(CrucibleException.class, () -> byteLevel.checkFitsModel(320));
        assertTrue(e.getMessage().contains("504") && e.getMessage().contains("320"), e.getMessage());
    }

    @Test
    void sentencePieceOnlyDirectoryGetsAConversionHint(@TempDir Path dir) throws IOException {
        Files.write(dir.resolve("tokenizer.model"), new byte[] {10, 2, 8, 1});
        CrucibleException e = assertThrows(CrucibleException.class, () -> Tokenizer.load(dir));
        assertTrue(e.getMessage().contains("tokenizer.model"), e.getMessage());
        assertTrue(e.getMessage().contains("save_pretrained"), e.getMessage());
    }

    @Test
    void missingTokenizerAndBadJsonAreNamed(@TempDir Path dir) throws IOException {
        CrucibleException missing = assertThrows(CrucibleException.class, () -> Tokenizer.load(dir));
        assertTrue(missing.getMessage().contains("no tokenizer.json"), missing.getMessage());
        Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}");
        CrucibleException bad = assertThrows(CrucibleException.class, () -> Tokenizer.load(dir));
        assertTrue(bad.getMessage().contains("tokenizer.json") && bad.getMessage().contains("not valid JSON"),
                bad.getMessage());
    }
}
