package dev.crucible.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.CrucibleException;
import dev.crucible.model.ChatTokenization.LossRange;
import dev.crucible.model.template.ChatPrompt;
import dev.crucible.model.template.ChatRequest;
import dev.crucible.model.template.ChatTemplate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ChatTokenizationTest {
    static final Path DIR = Path.of("testdata/hf/tokenizers/bytelevel_bpe");
    static final ObjectMapper JSON = new ObjectMapper();

    static Tokenizer tokenizer;
    static ChatTemplate chatml;

    @BeforeAll
    static void load() throws IOException {
        tokenizer = Tokenizer.load(DIR);
        chatml = ChatTemplate.of(Files.readString(DIR.resolve("chat_template.jinja")));
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    static Map<String, String> msg(String role, String content) {
        return Map.of("role", role, "content", content);
    }

    /** Loss on the assistant turns with their closings (the default of the SFT data path). */
    static List<LossRange> assistantLoss(ChatPrompt prompt) {
        List<LossRange> out = new ArrayList<>();
        for (ChatPrompt.Turn t : prompt.turns()) {
            if (t.role().equals("assistant")) {
                out.add(LossRange.of(t));
                out.add(LossRange.endOf(t));
            }
        }
        return out;
    }

    @Test
    void referenceConversationMasksExactlyTheAssistantReply() throws IOException {
        JsonNode ref = JSON.readTree(DIR.resolve("reference.json").toFile());
        List<Map<String, String>> messages = new ArrayList<>();
        for (JsonNode m : ref.get("messages")) {
            messages.add(msg(m.get("role").asText(), m.get("content").asText()));
        }
        ChatPrompt prompt = chatml.apply(ChatRequest.of(messages));
        assertEquals(ref.get("chat_template_render").asText(), prompt.text());

        ChatTokenization.Tokens tokens = ChatTokenization.tokenize(tokenizer, prompt, assistantLoss(prompt));
        assertArrayEquals(tokenizer.encode(prompt.text(), false), tokens.ids());
        ChatPrompt.Turn reply = prompt.turn(messages.size() - 1);
        String span = prompt.text().substring(reply.start(), reply.endOfTurn());
        assertEquals("4<|im_end|>\n", span);
        // the masked tokens are exactly the tokens of the reply, and they are the last ones
        int n = tokens.assistantTokenCount();
        int[] assistantIds = Arrays.copyOfRange(tokens.ids(), tokens.length() - n, tokens.length());
        assertArrayEquals(tokenizer.encode(span, false), assistantIds);
        for (int i = 0; i < tokens.length(); i++) {
            assertEquals(i >= tokens.length() - n, tokens.assistant()[i], "token " + i);
            assertEquals(tokens.assistant()[i] ? tokens.ids()[i] : -100, tokens.labels()[i]);
        }
    }

    @Test
    void everyAssistantTurnOfALongerConversationDecodesToItsSpan() {
        List<Map<String, String>> messages = List.of(msg("system", "You are terse."),
                msg("user", "Name a prime."), msg("assistant", "7, or 1e9+7 🙂"),
                msg("user", "And code?"), msg("assistant", "def f(x): return x * 2\n  # done"));
        ChatPrompt prompt = chatml.apply(ChatRequest.of(messages));
        ChatTokenization.Tokens tokens = ChatTokenization.tokenize(tokenizer, prompt, assistantLoss(prompt));

        List<String> runs = assistantRuns(tokens);
        assertEquals(2, runs.size());
        for (int k = 0; k < 2; k++) {
            ChatPrompt.Turn t = prompt.turn(2 + 2 * k);
            assertEquals(prompt.text().substring(t.start(), t.endOfTurn()), runs.get(k));
        }
        assertTrue(runs.get(0).startsWith("7, or 1e9+7 🙂"));
        // user and system text never gets a label
        String unmasked = decodeUnmasked(tokens);
        assertTrue(unmasked.contains("Name a prime.") && unmasked.contains("You are terse."));
        assertFalse(unmasked.contains("def f"));
    }

    @Test
    void generationPromptWithoutReplyHasNoAssistantTokens() {
        ChatPrompt prompt = chatml.apply(ChatRequest.of(List.of(msg("user", "hi"))).withGenerationPrompt(true));
        ChatTokenization.Tokens tokens = ChatTokenization.tokenize(tokenizer, prompt, assistantLoss(prompt));
        assertEquals(0, tokens.assistantTokenCount());
        assertTrue(tokens.length() > 0);
    }

    @Test
    void aTokenStraddlingTheStartOfATurnCountsButOnlyWholeTokensOfAClosing() {
        String text = "Hello world";
        Tokenizer.Encoded enc = tokenizer.encodeWithOffsets(text, false);
        int w = enc.tokens().indexOf("Ġw");
        // a range starting inside "Ġw" (at 'w', one character after the token start) still marks that token
        ChatTokenization.Tokens touching = ChatTokenization.tokenize(tokenizer, text,
                List.of(new LossRange(enc.starts()[w] + 1, text.length(), false)), false);
        // a closing range of whole tokens from the same place does not
        ChatTokenization.Tokens whole = ChatTokenization.tokenize(tokenizer, text,
                List.of(new LossRange(enc.starts()[w] + 1, text.length(), true)), false);
        for (int i = 0; i < touching.length(); i++) {
            assertEquals(i >= w, touching.assistant()[i], "token " + i);
            assertEquals(i > w, whole.assistant()[i], "token " + i);
        }
    }

    @Test
    void rangeOutsideThePromptIsRejected() {
        CrucibleException e = assertThrows(CrucibleException.class,
                () -> ChatTokenization.tokenize(tokenizer, "short", List.of(new LossRange(2, 9, false)), false));
        assertTrue(e.getMessage().contains("[2, 9)") && e.getMessage().contains("5 characters"), e.getMessage());
    }

    /** The decoded text of each maximal run of assistant tokens. */
    static List<String> assistantRuns(ChatTokenization.Tokens tokens) {
        List<String> runs = new ArrayList<>();
        int i = 0;
        while (i < tokens.length()) {
            if (!tokens.assistant()[i]) {
                i++;
                continue;
            }
            int j = i;
            while (j < tokens.length() && tokens.assistant()[j]) {
                j++;
            }
            runs.add(tokenizer.decode(Arrays.copyOfRange(tokens.ids(), i, j)));
            i = j;
        }
        return runs;
    }

    /** The decoded text of all tokens outside assistant turns. */
    static String decodeUnmasked(ChatTokenization.Tokens tokens) {
        int[] ids = new int[tokens.length()];
        int n = 0;
        for (int i = 0; i < tokens.length(); i++) {
            if (!tokens.assistant()[i]) {
                ids[n++] = tokens.ids()[i];
            }
        }
        return tokenizer.decode(Arrays.copyOf(ids, n));
    }
}
