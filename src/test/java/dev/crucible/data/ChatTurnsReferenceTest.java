package dev.crucible.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.CrucibleException;
import dev.crucible.model.ChatTokenization;
import dev.crucible.model.Tokenizer;
import dev.crucible.model.template.ChatPrompt;
import dev.crucible.model.template.ChatRequest;
import dev.crucible.model.template.ChatTemplate;
import dev.crucible.model.template.TemplateException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every chat template of {@code testdata/chat_templates} on every conversation of
 * {@code turns_reference.json} (made by {@code tools/chat_template_masks.py} with transformers'
 * {@code apply_chat_template}): the same render, every message located at the same characters, the same token
 * ids and, for each Axolotl label variant ({@code roles_to_train}, {@code train_on_eos}), the same labels from
 * {@link ExampleBuilder}. The tokenizer is the byte-level BPE fixture with each template's turn markers added as
 * special tokens, as the script builds it.
 */
class ChatTurnsReferenceTest {
    static final Path TEMPLATES = Path.of("testdata/chat_templates");
    static final JsonNode REF = read();

    static JsonNode read() {
        try {
            return DataFixtures.JSON.readTree(TEMPLATES.resolve("turns_reference.json").toFile());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void everyTemplateLocatesEveryTurnAndLabelsLikeTheReference(@TempDir Path tmp) throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.list(TEMPLATES)) {
            files = s.filter(p -> p.toString().endsWith(".jinja")).sorted().toList();
        }
        assertEquals(57, files.size());
        assertEquals(files.size(), REF.get("templates").size());
        List<String> failures = new ArrayList<>();
        int cases = 0;
        int refused = 0;
        int labelled = 0;
        for (Path file : files) {
            String name = file.getFileName().toString();
            JsonNode ref = REF.get("templates").get(name);
            ChatTemplate template = template(file, name);
            try (Tokenizer tokenizer = tokenizerWith(ref.get("markers"), Files.createDirectories(tmp.resolve(name)))) {
                for (var c : ref.get("cases").properties()) {
                    cases++;
                    String where = name + " / " + c.getKey();
                    JsonNode expected = c.getValue();
                    List<Map<String, Object>> messages = conversation(c.getKey());
                    List<?> tools = tools(c.getKey());
                    ChatRequest request = new ChatRequest(messages, tools, null, false, Map.of());
                    if (expected.has("error")) {
                        refused++;
                        if (!refuses(template, request)) {
                            failures.add(where + ": renders, transformers raised " + expected.get("error").asText());
                        }
                        continue;
                    }
                    labelled += compare(where, template, tokenizer, request, expected, failures);
                }
            }
        }
        assertEquals(List.of(), failures);
        assertEquals(57 * 6, cases);
        assertEquals(24, refused);
        assertEquals((cases - refused) * 5, labelled);
    }

    /** Compares one rendered case; returns the number of label variants compared. */
    private static int compare(String where, ChatTemplate template, Tokenizer tokenizer, ChatRequest request,
                               JsonNode expected, List<String> failures) {
        ChatPrompt prompt = template.apply(request);
        String text = expected.get("text").asText();
        if (!prompt.text().equals(text)) {
            failures.add(where + ": render differs\n  got  " + prompt.text() + "\n  want " + text);
            return 0;
        }
        for (int m = 0; m < request.messages().size(); m++) {
            JsonNode want = expected.get("turns").get(m);
            ChatPrompt.Turn got = prompt.turn(m);
            String gotText = got == null ? "null" : Arrays.toString(codePoints(text, got));
            String wantText = want.isNull() ? "null" : want.toString().replace(",", ", ");
            if (!gotText.equals(wantText)) {
                failures.add(where + ": message " + m + " at " + gotText + ", want " + wantText);
            }
        }
        int[] ids = ids(expected.get("input_ids"));
        int variants = 0;
        for (var v : expected.get("loss").properties()) {
            JsonNode spec = REF.get("variants").get(v.getKey());
            Set<String> roles = new HashSet<>();
            spec.get("roles_to_train").forEach(r -> roles.add(r.asText()));
            ChatLoss loss = new ChatLoss(roles, ChatLoss.TrainOnEos.parse(spec.get("train_on_eos").asText(), "test"));
            // the default goes the whole way through ExampleBuilder; the others reuse the located prompt
            String got;
            if (v.getKey().equals("default")) {
                got = built(tokenizer, request, template, loss, ids);
            } else {
                ChatTokenization.Tokens t = ChatTokenization.tokenize(tokenizer, prompt, loss.ranges(prompt));
                got = ranges(t.labels(), t.ids(), ids);
            }
            String want = v.getValue().toString();
            if (!got.equals(want)) {
                failures.add(where + " / " + v.getKey() + ": loss on tokens " + got + ", want " + want);
            }
            variants++;
        }
        return variants;
    }

    static int[] ids(JsonNode ids) {
        int[] out = new int[ids.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ids.get(i).intValue();
        }
        return out;
    }

    /** The loss ranges of the example ExampleBuilder makes, or a description of the failure. */
    private static String built(Tokenizer tokenizer, ChatRequest request, ChatTemplate template, ChatLoss loss,
                                int[] wantIds) {
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> messages = (List<Map<String, Object>>) request.messages();
        DatasetRow row = new DatasetRow(Path.of("ref.jsonl"), "line", 1, Map.of());
        ExampleBuilder builder = new ExampleBuilder(tokenizer, null, 1 << 20, false);
        SftExample e;
        try {
            e = builder.build(new Sample.Chat(row, messages, request.tools(), loss, template));
        } catch (CrucibleException ex) {
            return "error: " + ex.getMessage();
        }
        return e == null ? "[]" : ranges(e.labels(), e.inputIds(), wantIds);
    }

    private static String ranges(int[] labels, int[] ids, int[] wantIds) {
        return Arrays.equals(ids, wantIds) ? ranges(labels, ids) : "other token ids " + Arrays.toString(ids);
    }

    /** [start, end) runs of labelled tokens, as the reference writes them. */
    private static String ranges(int[] labels, int[] ids) {
        StringBuilder sb = new StringBuilder("[");
        int i = 0;
        while (i < labels.length) {
            if (labels[i] == SftExample.IGNORE_INDEX) {
                i++;
                continue;
            }
            int j = i;
            while (j < labels.length && labels[j] != SftExample.IGNORE_INDEX) {
                assertEquals(ids[j], labels[j]);
                j++;
            }
            sb.append(sb.length() > 1 ? "," : "").append('[').append(i).append(',').append(j).append(']');
            i = j;
        }
        return sb.append(']').toString();
    }

    private static boolean refuses(ChatTemplate template, ChatRequest request) {
        try {
            template.render(request);
            return false;
        } catch (TemplateException e) {
            return true;
        }
    }

    static int[] codePoints(String text, ChatPrompt.Turn t) {
        return new int[] {text.codePointCount(0, t.start()), text.codePointCount(0, t.end()),
                text.codePointCount(0, t.endOfTurn())};
    }

    static ChatTemplate template(Path file, String name) throws IOException {
        Map<String, Object> special = new java.util.LinkedHashMap<>();
        REF.get("special_tokens").properties().forEach(e -> special.put(e.getKey(), e.getValue().asText()));
        ChatTemplate t = ChatTemplate.of(Files.readString(file)).withSpecialTokens(special)
                .withClock(() -> ZonedDateTime.of(2025, 7, 10, 12, 0, 0, 0, ZoneOffset.UTC));
        JsonNode extra = REF.get("extra_context").get(name);
        @SuppressWarnings("unchecked")
        Map<String, Object> variables = extra == null ? Map.of() : DataFixtures.JSON.convertValue(extra, Map.class);
        return t.withVariables(variables);
    }

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> conversation(String name) {
        return DataFixtures.JSON.convertValue(REF.get("conversations").get(name), List.class);
    }

    static List<?> tools(String conversation) {
        for (JsonNode c : REF.get("conversation_tools")) {
            if (c.asText().equals(conversation)) {
                return DataFixtures.JSON.convertValue(REF.get("tools"), List.class);
            }
        }
        return null;
    }

    /** The byte-level BPE tokenizer with {@code markers} appended as special added tokens, as the script does. */
    static Tokenizer tokenizerWith(JsonNode markers, Path dir) throws IOException {
        ObjectNode spec = (ObjectNode) DataFixtures.JSON.readTree(DataFixtures.BYTELEVEL.resolve("tokenizer.json").toFile());
        ArrayNode added = (ArrayNode) spec.get("added_tokens");
        int next = 0;
        Set<String> known = new HashSet<>();
        for (JsonNode t : added) {
            next = Math.max(next, t.get("id").intValue() + 1);
            known.add(t.get("content").asText());
        }
        for (var it = spec.get("model").get("vocab").properties().iterator(); it.hasNext(); ) {
            next = Math.max(next, it.next().getValue().intValue() + 1);
        }
        for (JsonNode m : markers) {
            if (known.add(m.asText())) {
                ObjectNode t = added.addObject();
                t.put("id", next++).put("content", m.asText()).put("single_word", false).put("lstrip", false)
                        .put("rstrip", false).put("normalized", false).put("special", true);
            }
        }
        Files.writeString(dir.resolve("tokenizer.json"), DataFixtures.JSON.writeValueAsString(spec));
        Files.writeString(dir.resolve("tokenizer_config.json"), DataFixtures.JSON.writeValueAsString(REF.get("special_tokens")));
        return Tokenizer.load(dir);
    }
}
