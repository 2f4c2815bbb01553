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
import java.util.Set;

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

    /** Each assistant turn as "content|closing". */
    private static List<String> assistantTurns(ChatTemplate t, List<Map<String, Object>> messages) {
        ChatPrompt p = t.apply(ChatRequest.of(messages), Set.of("assistant"));
        List<String> out = new ArrayList<>();
        for (ChatPrompt.Turn turn : p.turns()) {
            out.add(turn.of(p.text()) + "|" + turn.endOfTurnOf(p.text()));
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
    void chatmlTurnsAreTheRepliesWithTheirClosings() throws IOException {
        ChatPrompt p = ChatTemplate.of(Files.readString(BYTELEVEL.resolve("chat_template.jinja")))
                .apply(ChatRequest.of(CONVERSATION));
        assertEquals(5, p.turns().size());
        ChatPrompt.Turn first = p.turn(2);
        assertEquals("assistant", first.role());
        assertEquals("Hello! How can I help?", first.of(p.text()));
        assertEquals("<|im_end|>\n", first.endOfTurnOf(p.text()));
        assertTrue(p.text().substring(0, first.start()).endsWith("<|im_start|>assistant\n"));
        assertEquals(p.text().length(), p.turn(4).endOfTurn());
        assertEquals("You are helpful.", p.turn(0).of(p.text()));
        assertEquals("2+2?|<|im_end|>\n", p.turn(3).of(p.text()) + "|" + p.turn(3).endOfTurnOf(p.text()));
    }

    @Test
    void llama31AndQwen25Turns() throws IOException {
        assertEquals(List.of("Hello! How can I help?|<|eot_id|>", "4|<|eot_id|>"),
                assistantTurns(template("meta-llama-Llama-3.1-8B-Instruct.jinja"), CONVERSATION));
        assertEquals(List.of("Hello! How can I help?|<|im_end|>\n", "4|<|im_end|>\n"),
                assistantTurns(template("Qwen-Qwen2.5-7B-Instruct.jinja"), CONVERSATION));
    }

    /**
     * Issue 10's case: Qwen3 renders the last assistant turn with an empty think block and earlier ones without,
     * so renders of the conversation up to a turn are no prefix of the whole; the reply "Yes" also occurs in the
     * first user message. Each reply is found where the template put it, never in the user's text.
     */
    @Test
    void qwen3RepliesAreFoundInTheirTurnsNotInTheUserText() throws IOException {
        ChatTemplate t = template("Qwen-Qwen3-0.6B.jinja");
        List<Map<String, Object>> chat = List.of(Map.of("role", "user", "content", "Is 7 prime? Answer Yes or No."),
                Map.of("role", "assistant", "content", "Yes"), Map.of("role", "user", "content", "And 9?"),
                Map.of("role", "assistant", "content", "No"));
        ChatPrompt p = t.apply(ChatRequest.of(chat));
        assertEquals("<|im_start|>user\nIs 7 prime? Answer Yes or No.<|im_end|>\n<|im_start|>assistant\nYes<|im_end|>\n"
                + "<|im_start|>user\nAnd 9?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nNo<|im_end|>\n",
                p.text());
        assertEquals(p.text().indexOf("assistant\nYes") + "assistant\n".length(), p.turn(1).start());
        assertEquals("Yes|<|im_end|>\n", p.turn(1).of(p.text()) + "|" + p.turn(1).endOfTurnOf(p.text()));
        assertEquals("No|<|im_end|>\n", p.turn(3).of(p.text()) + "|" + p.turn(3).endOfTurnOf(p.text()));
        assertTrue(p.turn(0).end() <= p.turn(1).start(), "the user's text is no part of the reply");
        String noThinking = t.render(ChatRequest.of(CONVERSATION.subList(0, 4)).withGenerationPrompt(true)
                .withExtra("enable_thinking", false));
        assertTrue(noThinking.endsWith("<|im_start|>assistant\n<think>\n\n</think>\n\n"), noThinking);
        String thinking = t.render(ChatRequest.of(CONVERSATION.subList(0, 4)).withGenerationPrompt(true));
        assertTrue(thinking.endsWith("<|im_start|>assistant\n"), thinking);
    }

    /** Phi-3.5 writes its EOS only after the last turn: earlier turns keep their own closing {@code <|end|>}. */
    @Test
    void phi35EarlierTurnsKeepTheirClosing() throws IOException {
        ChatTemplate t = template("microsoft-Phi-3.5-mini-instruct.jinja");
        assertEquals(List.of("Hello! How can I help?|<|end|>\n<", "4|<|end|>\n</s>"), assistantTurns(t, CONVERSATION));
    }

    @Test
    void leadingSpacesOfAReplyArePartOfTheTurn() throws IOException {
        List<Map<String, Object>> chat = List.of(Map.of("role", "user", "content", "Hi"),
                Map.of("role", "assistant", "content", "  Hello."));
        assertEquals(List.of("  Hello.|<|im_end|>\n"), assistantTurns(template("Qwen-Qwen2.5-7B-Instruct.jinja"), chat));
    }

    @Test
    void generationTagTemplatesAreLocatedLikeAnyOther() throws IOException {
        assertEquals(List.of("Hello! How can I help?|<|im_end|>\n", "4|<|im_end|>\n"),
                assistantTurns(template("LFM2.5-8B-A1B.jinja"), CONVERSATION));
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
        // absent tools and documents are None, as transformers passes them
        ChatTemplate none = ChatTemplate.of("{{ tools is none }} {{ documents is none }} {{ tools is defined }}");
        assertEquals("True True True", none.render(ChatRequest.of(List.of())));
        assertEquals("False True True", none.render(ChatRequest.of(List.of()).withTools(List.of(tool))));
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
