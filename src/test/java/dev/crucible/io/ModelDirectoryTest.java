package dev.crucible.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

/** The handle on a model directory: one config.json per handle, and the one reader of tokenizer_config.json. */
class ModelDirectoryTest {
    @TempDir
    Path tmp;

    @Test
    void aHandleReadsConfigJsonOnceAndSharesIt() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("m"));
        Files.copy(Path.of("testdata/hf/models/llama/config.json"), dir.resolve(ModelDirectory.CONFIG));
        ModelDirectory model = ModelDirectory.open(dir);
        ModelConfig config = model.config();
        Files.writeString(dir.resolve(ModelDirectory.CONFIG), "not json"); // a second read would fail
        assertSame(config, model.config());
        assertSame(config, model.withSpecialTokens(Map.of("pad_token", "</s>")).config(), "overrides keep the config");
        assertEquals(512, model.config().vocabSize());
    }

    @Test
    void tokenizerConfigIsReadFromATokenizerDirectoryAloneToo() {
        Path tokenizer = Path.of("testdata/hf/tokenizers/metaspace_bpe"); // no config.json
        assertEquals("</s>", ModelDirectory.tokenizerConfig(tokenizer).get("eos_token").asText());
        assertNull(ModelDirectory.tokenizerConfig(tmp), "none: null");
        assertNull(ModelDirectory.specialTokensMap(tokenizer));
    }

    @Test
    void aSpecialTokenIsAStringOrAnAddedTokenObject() throws IOException {
        var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree("""
                {"bos_token": "<s>", "eos_token": {"content": "</s>", "lstrip": false}, "pad_token": null,
                 "unk_token": {"lstrip": false}, "sep_token": 7}""");
        assertEquals("<s>", ModelDirectory.tokenText(json.get("bos_token")));
        assertEquals("</s>", ModelDirectory.tokenText(json.get("eos_token")));
        assertNull(ModelDirectory.tokenText(json.get("pad_token")), "null");
        assertNull(ModelDirectory.tokenText(json.get("cls_token")), "absent");
        assertNull(ModelDirectory.tokenText(json.get("unk_token")), "an object without content");
        assertNull(ModelDirectory.tokenText(json.get("sep_token")), "neither");
    }
}
