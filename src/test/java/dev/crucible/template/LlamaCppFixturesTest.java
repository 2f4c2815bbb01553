package dev.crucible.template;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.crucible.template.FixtureSupport.reference;
import static dev.crucible.template.FixtureSupport.render;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Jinja expectations of llama.cpp's chat-template test ({@code expected.json}), character for character.
 *
 * <p>Six cases are flagged {@code system_merged_into_user_by_llamacpp_polyfill}: llama.cpp does not render
 * those templates with the raw messages but first merges the system message into the first user message
 * ("You are a helpful assistant\nHello"), because the templates reject or drop a system role. A plain
 * render of the raw messages (what transformers does) therefore raises or differs; for those six the test
 * checks that the raw render equals Python Jinja2's, and that applying llama.cpp's polyfill reproduces
 * llama.cpp's expectation. One case (GigaChat) is not supported by llama.cpp's Jinja path
 * ({@code expected_jinja_effective} is null): it is compared with Python Jinja2's render only.
 */
class LlamaCppFixturesTest {
    private static final JsonNode CASES = FixtureSupport.read("expected.json").get("cases");
    private static final JsonNode REF = FixtureSupport.read("python_jinja2/reference.json").get("llamacpp");

    private static Map<String, Object> context(JsonNode c, Object messages) {
        Map<String, Object> ctx = new LinkedHashMap<>();
        ctx.put("messages", messages);
        ctx.put("bos_token", c.get("bos_token").asText());
        ctx.put("eos_token", c.get("eos_token").asText());
        ctx.put("add_generation_prompt", c.get("add_generation_prompt").asBoolean());
        return ctx;
    }

    /** llama.cpp's polyfill: the system message becomes a prefix of the first user message. */
    private static List<Map<String, Object>> mergeSystemIntoUser(JsonNode messages) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (JsonNode m : messages) {
            out.add(new LinkedHashMap<>(Map.of("role", m.get("role").asText(), "content", m.get("content").asText())));
        }
        Map<String, Object> system = out.removeFirst();
        out.getFirst().put("content", system.get("content") + "\n" + out.getFirst().get("content"));
        return out;
    }

    @Test
    void jinjaExpectationsMatch() {
        int direct = 0;
        int polyfilled = 0;
        int pythonOnly = 0;
        List<String> failures = new ArrayList<>();
        for (int i = 0; i < CASES.size(); i++) {
            JsonNode c = CASES.get(i);
            String name = c.get("name").asText();
            String template = c.get("template").asText();
            String raw = render(template, context(c, c.get("messages")), TemplateOptions.TRANSFORMERS);
            String python = reference(REF.get(i));
            if (!raw.equals(python)) {
                failures.add(name + ": differs from Python Jinja2\n  got    " + raw + "\n  python " + python);
                continue;
            }
            JsonNode expected = c.get("expected_jinja_effective");
            if (expected.isNull()) {
                pythonOnly++;
            } else if (c.get("system_merged_into_user_by_llamacpp_polyfill").asBoolean()) {
                String merged = render(template, context(c, mergeSystemIntoUser(c.get("messages"))),
                        TemplateOptions.TRANSFORMERS);
                if (merged.equals("OUT:" + expected.asText())) {
                    polyfilled++;
                } else {
                    failures.add(name + " (polyfilled)\n  got      " + merged + "\n  expected " + expected.asText());
                }
            } else if (raw.equals("OUT:" + expected.asText())) {
                direct++;
            } else {
                failures.add(name + "\n  got      " + raw + "\n  expected " + expected.asText());
            }
        }
        assertEquals(List.of(), failures);
        assertEquals(29, direct, "cases equal to llama.cpp's Jinja expectation as rendered");
        assertEquals(6, polyfilled, "polyfilled cases equal after merging the system message like llama.cpp");
        assertEquals(1, pythonOnly, "case llama.cpp does not render with Jinja, equal to Python Jinja2");
        assertTrue(raw(CASES.get(1)).startsWith("ERR:TemplateError: Conversation roles must alternate"),
                "Mistral v0.2 rejects the raw system message with its own raise_exception");
    }

    private static String raw(JsonNode c) {
        return render(c.get("template").asText(), context(c, c.get("messages")), TemplateOptions.TRANSFORMERS);
    }
}
