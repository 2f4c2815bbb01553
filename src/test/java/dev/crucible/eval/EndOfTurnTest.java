package dev.crucible.eval;

import dev.crucible.model.Tokenizer;
import dev.crucible.model.template.ChatTemplate;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The end-of-turn token of real chat templates: what a reply is followed by, so chat generation stops there. */
class EndOfTurnTest {
    static final Path TEMPLATES = Path.of("testdata/chat_templates");

    @Test
    void realTemplatesEndAReplyWithTheirTurnToken() throws IOException {
        Map<String, String> expected = new LinkedHashMap<>();
        expected.put("Qwen-Qwen2.5-7B-Instruct.jinja", "<|im_end|>");
        expected.put("Qwen-Qwen3-0.6B.jinja", "<|im_end|>");
        expected.put("meta-llama-Llama-3.1-8B-Instruct.jinja", "<|eot_id|>");
        expected.put("google-gemma-2-2b-it.jinja", "<end_of_turn>");
        expected.put("microsoft-Phi-3.5-mini-instruct.jinja", "<|end|>");
        expected.put("mistralai-Mistral-Nemo-Instruct-2407.jinja", "</s>");
        expected.put("HuggingFaceTB-SmolLM3-3B.jinja", "<|im_end|>");
        for (Map.Entry<String, String> e : expected.entrySet()) {
            ChatTemplate t = ChatTemplate.of(Files.readString(TEMPLATES.resolve(e.getKey())))
                    .withSpecialTokens(Map.of("bos_token", "<s>", "eos_token", "</s>"));
            String suffix = EndOfTurn.suffix(t);
            assertTrue(suffix != null && suffix.stripLeading().startsWith(e.getValue()), e.getKey() + ": " + suffix);
        }
    }

    @Test
    void theTokenIsTheSpecialTokenTheTemplateWritesAfterAReply() throws IOException {
        Path dir = Path.of("testdata/hf/tokenizers/bytelevel_bpe");
        try (Tokenizer tok = Tokenizer.load(dir)) {
            ChatTemplate chatml = ChatTemplate.of(Files.readString(dir.resolve("chat_template.jinja")));
            assertEquals(tok.tokenToId("<|im_end|>"), EndOfTurn.tokenId(chatml, tok));
            // a template that writes plain text after a reply has no end-of-turn token: eos alone stops generation
            ChatTemplate plain = ChatTemplate.of("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}");
            assertNull(EndOfTurn.tokenId(plain, tok));
            ChatTemplate raising = ChatTemplate.of("{{ raise_exception('system message required') }}");
            assertNull(EndOfTurn.tokenId(raising, tok));
        }
    }
}
