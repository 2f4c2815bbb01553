package dev.crucible.model.template;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crucible.io.ModelDirectory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The chat formatting API: prompt text as transformers renders it, and the assistant spans for the loss mask. */
class ChatTemplateTest {
    private static final Path BYTELEVEL = Path.of("testdata/hf/tokenizers/bytelevel_bpe");
    private static final List<Map<String, Object>> CONVERSATION = List.of(
            Map.of("role", "system", "content", "You are helpful."),
            Map.of("role", "user", "content", "Hi"),
            Map.of("role", "assistant", "content", "Hello! How can I help?"),
            Map.of("role", "user", "content", "2+2?"),
            Map.of("role", "assistant", "content", "4"));

    private static ChatTemplate template(String file) throws IOException {
        return ChatTemplate.of(Files.readString(FixtureSupport.DIR.resolve(file)))
                .withSpecialTokens(Map.of("bos_token", "<s>", "eos_token", "</s>"))
                .withClock(FixtureSupport.CLOCK);
    }

    private static List<String> spanTexts(ChatPrompt p) {
        List<String> out = new ArrayList<>();
        for (ChatPrompt.Span s : p.spans()) {
            out.add(s.of(p.text()));
        }
        return out;
    }

    @Test
    void bytelevelReferenceRendersEqual() throws IOException {
        JsonNode ref = FixtureSupport.JSON.readTree(BYTELEVEL.resolve("reference.json").toFile());
        ChatTemplate t = ChatTemplate.of(Files.readString(BYTELEVEL.resolve("chat_template.jinja")))
                .withSpecialTokens(ChatTemplate.specialTokens(
                        FixtureSupport.JSON.readTree(BYTELEVEL.resolve("tokenizer_config.json").toFile())));
        List<Map<String, Object>> messages = new ArrayList<>();
        for (JsonNode m : ref.get("messages")) {
            messages.add(Map.of("role", m.get("role").asText(), "content", m.get("content").asText()));
        }
        assertEquals(ref.get("chat_template_render").asText(), t.render(ChatRequest.of(messages)));
        assertEquals(ref.get("chat_template_render_generation").asText(),
                t.render(ChatRequest.of(messages.subList(0, messages.size() - 1)).withGenerationPrompt(true)));
    }

    @Test
    void chatmlSpansCoverEachAssistantTurnWithItsEndOfTurn() throws IOException {
        ChatPrompt p = ChatTemplate.of(Files.readString(BYTELEVEL.resolve("chat_template.jinja")))
                .apply(ChatRequest.of(CONVERSATION));
        assertEquals(List.of("Hello! How can I help?<|im_end|>\n", "4<|im_end|>\n"), spanTexts(p));
        assertEquals(2, p.spans().get(0).message());
        assertEquals(4, p.spans().get(1).message());
        assertTrue(p.text().substring(0, p.spans().get(0).start()).endsWith("<|im_start|>assistant\n"));
        assertEquals(p.text().length(), p.spans().get(1).end());
        p.spans().forEach(s -> assertEquals(ChatPrompt.Method.PREFIX, s.method()));
    }

    @Test
    void llama31AndQwen25Spans() throws IOException {
        ChatPrompt llama = template("meta-llama-Llama-3.1-8B-Instruct.jinja").apply(ChatRequest.of(CONVERSATION));
        assertEquals(List.of("Hello! How can I help?<|eot_id|>", "4<|eot_id|>"), spanTexts(llama));
        assertTrue(llama.text().startsWith("<s><|start_header_id|>system<|end_header_id|>\n\n"));
        ChatPrompt qwen = template("Qwen-Qwen2.5-7B-Instruct.jinja").apply(ChatRequest.of(CONVERSATION));
        assertEquals(List.of("Hello! How can I help?<|im_end|>\n", "4<|im_end|>\n"), spanTexts(qwen));
    }

    @Test
    void qwen3RewritesPastTurnsSoTheFirstSpanIsFoundByContent() throws IOException {
        ChatTemplate t = template("Qwen-Qwen3-0.6B.jinja");
        ChatPrompt p = t.apply(ChatRequest.of(CONVERSATION));
        assertEquals(List.of("Hello! How can I help?<|im_end|>\n", "<think>\n\n</think>\n\n4<|im_end|>\n"),
                spanTexts(p));
        assertEquals(ChatPrompt.Method.CONTENT_SEARCH, p.spans().get(0).method());
        assertEquals(ChatPrompt.Method.PREFIX, p.spans().get(1).method());
        String noThinking = t.render(ChatRequest.of(CONVERSATION.subList(0, 4)).withGenerationPrompt(true)
                .withExtra("enable_thinking", false));
        assertTrue(noThinking.endsWith("<|im_start|>assistant\n<think>\n\n</think>\n\n"), noThinking);
        String thinking = t.render(ChatRequest.of(CONVERSATION.subList(0, 4)).withGenerationPrompt(true));
        assertTrue(thinking.endsWith("<|im_start|>assistant\n"), thinking);
    }

    @Test
    void generationTagsGiveTheTemplatesOwnAssistantMask() throws IOException {
        ChatPrompt p = template("LFM2.5-8B-A1B.jinja").apply(ChatRequest.of(CONVERSATION));
        assertEquals(List.of("Hello! How can I help?<|im_end|>\n", "4<|im_end|>\n"), spanTexts(p));
        p.spans().forEach(s -> assertEquals(ChatPrompt.Method.GENERATION_TAG, s.method()));
    }

    @Test
    void toolsAndDocumentsReachTheTemplate() throws IOException {
        JsonNode tool = FixtureSupport.JSON.readTree("{\"type\": \"function\", \"function\": {\"name\": "
                + "\"get_weather\", \"description\": \"Weather of a city\", \"parameters\": {\"type\": \"object\", "
                + "\"properties\": {\"city\": {\"type\": \"string\"}}}}}");
        String text = template("Qwen-Qwen2.5-7B-Instruct.jinja").render(ChatRequest.of(CONVERSATION.subList(1, 2))
                .withTools(List.of(tool)).withGenerationPrompt(true));
        assertTrue(text.contains("<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\""), text);
        assertTrue(text.endsWith("<|im_start|>assistant\n"));
        ChatTemplate docs = ChatTemplate.of("{% for d in documents %}[{{ d.title }}]{% endfor %}{{ flag }}");
        assertEquals("[a][b]on", docs.render(ChatRequest.of(List.of())
                .withDocuments(List.of(Map.of("title", "a"), Map.of("title", "b"))).withExtra("flag", "on")));
    }

    @Test
    void fromModelReadsTheTemplateAndSpecialTokens(@TempDir Path dir) throws IOException {
        Files.copy(Path.of("testdata/hf/models/llama/config.json"), dir.resolve("config.json"));
        Files.copy(Path.of("testdata/real_configs/Llama-3.2-1B-Instruct.tokenizer_config.json"),
                dir.resolve("tokenizer_config.json"));
        ChatTemplate t = ChatTemplate.fromModel(ModelDirectory.open(dir)).withClock(FixtureSupport.CLOCK);
        String text = t.render(ChatRequest.of(CONVERSATION.subList(1, 2)).withGenerationPrompt(true));
        assertTrue(text.startsWith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                + "Cutting Knowledge Date: December 2023\nToday Date: 10 Jul 2025\n\n"), text);
        assertTrue(text.endsWith("<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n"), text);
        Files.delete(dir.resolve("tokenizer_config.json"));
        assertThrows(dev.crucible.CrucibleException.class, () -> ChatTemplate.fromModel(ModelDirectory.open(dir)));
    }
}
