package dev.crucible.merge;

import dev.crucible.CrucibleException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The {@code chat_template} key: a name of one of mergekit's bundled templates (the template texts are shipped
 * as data under {@code resources/dev/crucible/merge/chat_templates}, see SOURCES.md there), {@code auto}, or a
 * raw Jinja template.
 */
public final class ChatTemplates {
    public static final List<String> BUILT_IN = List.of("alpaca", "chatml", "exaone", "llama3", "mistral");

    private ChatTemplates() {
    }

    static void validate(String value) {
        if (value.equals("auto") || BUILT_IN.contains(value)) {
            return;
        }
        if (value.length() < 20 || !value.contains("{")) {
            throw new CrucibleException("chat_template: '" + value + "' is neither a built-in template "
                    + BUILT_IN + ", 'auto', nor a Jinja template");
        }
    }

    /** The template text for a built-in name, or the value itself when it is raw Jinja; null for "auto". */
    public static String resolve(String value) {
        if (value.equals("auto")) {
            return null;
        }
        if (!BUILT_IN.contains(value)) {
            return value;
        }
        try (InputStream in = ChatTemplates.class.getResourceAsStream("chat_templates/" + value + ".jinja")) {
            if (in == null) {
                throw new IllegalStateException("built-in chat template " + value + " missing from the jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
