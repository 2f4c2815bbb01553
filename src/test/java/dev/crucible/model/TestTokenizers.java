package dev.crucible.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Small tokenizer directories derived from the fixtures, shared by tests in other packages. */
public final class TestTokenizers {
    private static final ObjectMapper JSON = new ObjectMapper();

    private TestTokenizers() {
    }

    /** tinytok with a Llama-style post-processor: {@code <s> $A </s>}. */
    public static void writeWithBosEosTemplate(Path dir) throws IOException {
        ObjectNode json = (ObjectNode) JSON.readTree(SpecialTokensTest.TINYTOK.resolve("tokenizer.json").toFile());
        json.set("post_processor", JSON.readTree("""
                {"type": "TemplateProcessing",
                 "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                            {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                 "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                 "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]},
                                    "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}}"""));
        JSON.writeValue(dir.resolve("tokenizer.json").toFile(), json);
        Files.copy(SpecialTokensTest.TINYTOK.resolve("tokenizer_config.json"), dir.resolve("tokenizer_config.json"));
    }
}
