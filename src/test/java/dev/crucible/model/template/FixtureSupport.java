package dev.crucible.model.template;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/** Loads the chat-template fixtures and renders a case the way the reference tests did. */
final class FixtureSupport {
    static final Path DIR = Path.of("testdata/chat_templates");
    /** huggingface.js's tests mock the clock to this instant (it matters for strftime_now). */
    static final Supplier<ZonedDateTime> CLOCK = () -> ZonedDateTime.of(2025, 7, 10, 12, 0, 0, 0, ZoneOffset.UTC);
    static final ObjectMapper JSON = new ObjectMapper();

    private FixtureSupport() {
    }

    static JsonNode read(String name) {
        try {
            return JSON.readTree(DIR.resolve(name).toFile());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static Map<String, Object> context(JsonNode obj) {
        Map<String, Object> m = new LinkedHashMap<>();
        obj.properties().forEach(e -> m.put(e.getKey(), e.getValue()));
        return m;
    }

    /** The render as the reference records it: {@code OUT:text} or {@code ERR:Kind: message}. */
    static String render(String template, Map<String, Object> ctx, TemplateOptions options) {
        try {
            return "OUT:" + Template.compile(template, options).render(ctx, CLOCK);
        } catch (TemplateException e) {
            return "ERR:" + e.kind() + ": " + e.detail();
        }
    }

    static String reference(JsonNode r) {
        return r.has("output") ? "OUT:" + r.get("output").asText() : "ERR:" + r.get("error").asText();
    }
}
