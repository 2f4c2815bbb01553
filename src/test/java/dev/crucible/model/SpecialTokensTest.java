package dev.crucible.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.CrucibleException;
import dev.crucible.io.ModelConfig;
import dev.crucible.io.ModelDirectory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SpecialTokensTest {
    static final Path TINYTOK = Path.of("testdata/mergekit/models/tinytok-base");
    static final Path BYTELEVEL = Path.of("testdata/hf/tokenizers/bytelevel_bpe");
    static final Path REAL = Path.of("testdata/real_configs");
    static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void tinytokResolvesToTheIdsOfItsConfigJson() {
        ModelDirectory dir = ModelDirectory.open(TINYTOK);
        GenerationTokenIds gen = GenerationTokenIds.read(dir);
        try (Tokenizer tok = Tokenizer.load(TINYTOK)) {
            SpecialTokens s = tok.specialTokens();
            assertEquals("<s>", s.bos());
            assertEquals("</s>", s.eos());
            assertEquals("<unk>", s.unk());
            assertNull(s.pad());
            assertEquals(gen.bos(), tok.bosTokenId());
            assertEquals(List.of(tok.eosTokenId()), gen.eos());
            assertEquals(0, tok.unkTokenId());
            assertNull(tok.padTokenId());
            assertEquals(List.of(2), gen.stopIds(tok));
            // byte b is token 3 + b, and PreTrainedTokenizerFast with no post-processor adds no BOS
            assertArrayEquals(new int[] {3 + 'h', 3 + 'i'}, tok.encode("hi"));
            tok.checkFitsModel(dir.config().vocabSize());
            assertEquals(320, tok.requiredEmbeddingRows());
        }
    }

    @Test
    void addBosAndEosFlagsDoNotOverrideTokenizerJson(@TempDir Path dir) throws IOException {
        // transformers 5.18 gives [107, 108] for "hi" here: the flags are dropped when tokenizer.json exists
        Files.copy(TINYTOK.resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        writeConfig(dir, Map.of("bos_token", "<s>", "eos_token", "</s>", "add_bos_token", true,
                "add_eos_token", true));
        try (Tokenizer tok = Tokenizer.load(dir)) {
            assertEquals(Boolean.TRUE, tok.specialTokens().addBosToken());
            assertArrayEquals(new int[] {3 + 'h', 3 + 'i'}, tok.encode("hi"));
        }
    }

    @Test
    void postProcessorBosAndEosAreAddedOnlyWithSpecialTokens(@TempDir Path dir) throws IOException {
        TestTokenizers.writeWithBosEosTemplate(dir);
        try (Tokenizer tok = Tokenizer.load(dir)) {
            assertArrayEquals(new int[] {1, 3 + 'h', 3 + 'i', 2}, tok.encode("hi"));
            assertArrayEquals(new int[] {3 + 'h', 3 + 'i'}, tok.encode("hi", false));
            assertArrayEquals(new int[] {1, 3 + 'h', 2}, tok.encodeBatch(List.of("h"), true).get(0));
            Tokenizer.Encoded enc = tok.encodeWithOffsets("hi", true);
            assertTrue(enc.addedSpecial()[0] && enc.addedSpecial()[3] && !enc.addedSpecial()[1]);
            assertEquals(0, enc.starts()[0]);
            assertEquals(0, enc.ends()[0]);
            assertEquals(2, enc.starts()[3]);
            assertEquals("hi", tok.decode(tok.encode("hi"), true));
            assertEquals("<s>hi</s>", tok.decode(tok.encode("hi"), false));
        }
    }

    @Test
    void namedSpecialTokenMissingFromTokenizerJsonIsAdded(@TempDir Path dir) throws IOException {
        Files.copy(TINYTOK.resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        writeConfig(dir, Map.of("bos_token", "<s>", "eos_token", "</s>", "pad_token", "<newpad>"));
        try (Tokenizer tok = Tokenizer.load(dir)) {
            // transformers' add_tokens gives a token outside the vocabulary the next free id
            assertEquals(320, tok.padTokenId());
            assertEquals(321, tok.size());
            assertArrayEquals(new int[] {3 + 'a', 320, 3 + 'b'}, tok.encode("a<newpad>b"));
            assertEquals("ab", tok.decode(tok.encode("a<newpad>b"), true));
            CrucibleException e = assertThrows(CrucibleException.class, () -> tok.checkFitsModel(320));
            assertTrue(e.getMessage().contains("321") && e.getMessage().contains("320"), e.getMessage());
        }
    }

    @Test
    void specialTokensMapWinsAndAddedTokenDictsAreRead(@TempDir Path dir) throws IOException {
        Files.copy(TINYTOK.resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        writeConfig(dir, Map.of("bos_token", Map.of("__type", "AddedToken", "content", "<s>", "lstrip", false),
                "eos_token", "<s>"));
        Files.writeString(dir.resolve("special_tokens_map.json"),
                "{\"eos_token\": {\"content\": \"</s>\", \"special\": true}, \"pad_token\": \"</s>\"}");
        try (Tokenizer tok = Tokenizer.load(dir)) {
            assertEquals(1, tok.bosTokenId());
            assertEquals(2, tok.eosTokenId());
            assertEquals(2, tok.padTokenId());
        }
    }

    @Test
    void malformedTokenEntryIsNamed(@TempDir Path dir) throws IOException {
        Files.copy(TINYTOK.resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        writeConfig(dir, Map.of("eos_token", 7));
        CrucibleException e = assertThrows(CrucibleException.class, () -> Tokenizer.load(dir));
        assertTrue(e.getMessage().contains("eos_token") && e.getMessage().contains("tokenizer_config.json"),
                e.getMessage());
    }

    /** Real checkpoints' tokenizer configs: the resolved strings map (through added_tokens_decoder) to config.json's ids. */
    @ParameterizedTest
    @CsvSource(nullValues = "null", value = {
            "Llama-3.2-1B-Instruct, <|begin_of_text|>, <|eot_id|>, <|eot_id|>, 128000, 128009, 128009",
            "Llama-3.2-1B, <|begin_of_text|>, <|end_of_text|>, <|end_of_text|>, 128000, 128001, 128001",
            "Qwen2.5-0.5B-Instruct, null, <|im_end|>, <|endoftext|>, null, 151645, 151643",
            "Qwen3-4B-Instruct-2507, null, <|im_end|>, <|endoftext|>, null, 151645, 151643"})
    void realTokenizerConfigs(String model, String bos, String eos, String pad, Integer bosId, int eosId, int padId)
            throws IOException {
        JsonNode tc = JSON.readTree(REAL.resolve(model + ".tokenizer_config.json").toFile());
        SpecialTokens s = SpecialTokens.fromJson(tc, null, model);
        assertEquals(bos, s.bos());
        assertEquals(eos, s.eos());
        assertEquals(pad, s.pad());
        Map<String, Integer> ids = SpecialTokens.addedTokensDecoder(tc);
        assertEquals(bosId, s.bos() == null ? null : ids.get(s.bos()));
        assertEquals(eosId, ids.get(s.eos()));
        assertEquals(padId, ids.get(s.pad()));

        ModelConfig config = ModelConfig.read(REAL.resolve(model + ".json"));
        GenerationTokenIds gen = GenerationTokenIds.of(null, config);
        assertTrue(gen.eos().contains(eosId), model + ": tokenizer eos " + eosId + " not in " + gen.eos());
        if (bosId != null) {
            assertEquals(bosId, gen.bos());
        }
        assertTrue(config.vocabSize() > java.util.Collections.max(ids.values()));
        if (model.startsWith("Qwen")) {
            assertEquals(Boolean.FALSE, s.addBosToken());
            assertEquals(13, s.additional().size());
            assertFalse(s.cleanUpTokenizationSpaces());
        } else {
            assertTrue(s.cleanUpTokenizationSpaces());
        }
    }

    @Test
    void generationConfigWinsOverConfigJsonPerKey() throws IOException {
        ModelConfig config = ModelConfig.read(REAL.resolve("Llama-3.2-1B-Instruct.json"));
        assertEquals(List.of(128001, 128008, 128009), GenerationTokenIds.of(null, config).eos());
        JsonNode gen = JSON.readTree("{\"eos_token_id\": 128009, \"pad_token_id\": 128004}");
        GenerationTokenIds ids = GenerationTokenIds.of(gen, config);
        assertEquals(List.of(128009), ids.eos());
        assertEquals(128004, ids.pad());
        assertEquals(128000, ids.bos());
    }

    @Test
    void cleanUpTokenizationSpacesFollowsTransformers() {
        assertEquals("Hello, world. I'm here, aren't you?",
                Tokenizer.cleanUpTokenizationSpaces("Hello , world . I 'm here , are n't you ?"));
    }

    static void writeConfig(Path dir, Map<String, Object> config) throws IOException {
        JSON.writeValue(dir.resolve("tokenizer_config.json").toFile(), config);
    }
}
