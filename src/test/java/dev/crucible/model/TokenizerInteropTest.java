package dev.crucible.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.PythonInterop;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Compares Crucible's tokenizer with transformers' AutoTokenizer on the fixture tokenizers and on variants that
 * exercise the loading rules (special tokens map, a pad token missing from tokenizer.json, add_bos/add_eos flags,
 * a BOS/EOS post-processor, clean_up_tokenization_spaces). Runs only where a Python with transformers is
 * available ({@code CRUCIBLE_PYTHON}, else {@code python3}); skipped otherwise. Real checkpoints' tokenizer
 * directories listed in {@code CRUCIBLE_TOKENIZER_DIRS} (separated by the path separator) are compared too.
 */
class TokenizerInteropTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Path TINYTOK = Path.of("testdata/mergekit/models/tinytok-base");
    static final Path BYTELEVEL = Path.of("testdata/hf/tokenizers/bytelevel_bpe");

    static final List<String> TEXTS = List.of("hi", "Hello , world . I 'm here , are n't you ?",
            "<|im_start|>user\nhi<|im_end|>", "a<newpad>b</s>", "café 日本語 🙂🚀", "  two  spaces\tand\ttabs\n",
            "<s>already bos</s>", "", "Ünïcödé — “quotes” ‘and’ naïve façade\r\nCRLF", "x".repeat(300),
            "    indented(code) {\n\treturn a->b[0] != 0x1F; // done\n}\n", "1234567890123 + 0.5e-10 = ?",
            "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nOK");

    @Test
    void matchesTransformers(@TempDir Path tmp) throws Exception {
        PythonInterop.assumeModules("transformers");

        List<Path> dirs = new ArrayList<>(List.of(BYTELEVEL, Path.of("testdata/hf/tokenizers/metaspace_bpe"), TINYTOK));
        dirs.add(variant(tmp, "flags", TINYTOK, Map.of("bos_token", "<s>", "eos_token", "</s>",
                "add_bos_token", true, "add_eos_token", true), null));
        dirs.add(variant(tmp, "newpad", TINYTOK, Map.of("bos_token", "<s>", "eos_token", "</s>",
                "pad_token", "<newpad>"), null));
        dirs.add(variant(tmp, "map", TINYTOK, Map.of("bos_token", Map.of("__type", "AddedToken", "content", "<s>"),
                "eos_token", "<s>"), "{\"eos_token\": {\"content\": \"</s>\"}, \"pad_token\": \"</s>\"}"));
        dirs.add(variant(tmp, "cleanup", BYTELEVEL, Map.of("bos_token", "<s>", "eos_token", "</s>",
                "clean_up_tokenization_spaces", true), null));
        dirs.add(variant(tmp, "cleanup_forced", BYTELEVEL, Map.of("bos_token", "<s>", "eos_token", "</s>",
                "clean_up_tokenization_spaces", true,
                "clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output", true), null));
        Path template = tmp.resolve("template");
        Files.createDirectories(template);
        TestTokenizers.writeWithBosEosTemplate(template);
        dirs.add(template);

        String extra = System.getenv("CRUCIBLE_TOKENIZER_DIRS");
        if (extra != null && !extra.isBlank()) {
            for (String d : extra.split(java.io.File.pathSeparator)) {
                dirs.add(Path.of(d));
            }
        }

        JsonNode expected = runPython(dirs, tmp);
        for (int d = 0; d < dirs.size(); d++) {
            JsonNode ref = expected.get(d);
            try (Tokenizer tok = Tokenizer.load(dirs.get(d))) {
                String where = dirs.get(d).toString();
                assertEquals(ref.get("len").asInt(), tok.size(), where + " len");
                assertEquals(nullableInt(ref.get("bos")), tok.bosTokenId(), where + " bos");
                assertEquals(nullableInt(ref.get("eos")), tok.eosTokenId(), where + " eos");
                assertEquals(nullableInt(ref.get("pad")), tok.padTokenId(), where + " pad");
                assertEquals(nullableInt(ref.get("unk")), tok.unkTokenId(), where + " unk");
                for (JsonNode c : ref.get("cases")) {
                    String text = c.get("text").asText();
                    int[] with = tok.encode(text);
                    assertArrayEquals(ints(c.get("with_special")), with, where + ": " + text);
                    assertArrayEquals(ints(c.get("without_special")), tok.encode(text, false), where + ": " + text);
                    assertEquals(c.get("decode").asText(), tok.decode(with), where + ": " + text);
                    assertEquals(c.get("decode_skip").asText(), tok.decode(with, true), where + ": " + text);
                }
            }
        }
    }

    static Path variant(Path tmp, String name, Path source, Map<String, Object> config, String specialTokensMap)
            throws IOException {
        Path dir = tmp.resolve(name);
        Files.createDirectories(dir);
        Files.copy(source.resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        JSON.writeValue(dir.resolve("tokenizer_config.json").toFile(), config);
        if (specialTokensMap != null) {
            Files.writeString(dir.resolve("special_tokens_map.json"), specialTokensMap);
        }
        return dir;
    }

    static JsonNode runPython(List<Path> dirs, Path tmp) throws IOException {
        ObjectNode request = JSON.createObjectNode();
        ArrayNode ds = request.putArray("dirs");
        dirs.forEach(d -> ds.add(d.toAbsolutePath().toString()));
        ArrayNode ts = request.putArray("texts");
        TEXTS.forEach(ts::add);
        var result = PythonInterop.runResource("tokenizer_reference.py", tmp, List.of(),
                JSON.writeValueAsBytes(request), Duration.ofMinutes(2)).assertOk();
        return JSON.readTree(result.out());
    }

    static Integer nullableInt(JsonNode n) {
        return n == null || n.isNull() ? null : n.asInt();
    }

    static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }
}
