package dev.crucible.data;

import dev.crucible.CrucibleException;
import dev.crucible.io.ModelDirectory;
import dev.crucible.model.template.ChatTemplate;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The {@code chat_template} setting, as Axolotl reads it: {@code tokenizer_default} (or unset) for the model's
 * own template; a built-in name ({@code chatml}, {@code llama3}, {@code alpaca}); a path to a {@code .jinja} file;
 * or the Jinja source itself. The template gets the model's special tokens ({@code bos_token}, {@code eos_token},
 * ...) from its {@code tokenizer_config.json}.
 */
public final class ChatTemplates {
    public static final String TOKENIZER_DEFAULT = "tokenizer_default";
    private static final String FALLBACK = "tokenizer_default_fallback_";

    /** The built-in templates by name (the formats as their models define them). */
    private static final Map<String, String> BUILT_IN = new TreeMap<>(Map.of(
            "chatml", """
                    {% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] \
                    + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}\
                    {% endif %}""",
            "llama3", """
                    {{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] \
                    + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}\
                    {% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}""",
            "alpaca", """
                    {% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'] + '\\n\\n' }}\
                    {% elif message['role'] == 'user' %}{{ '### Instruction: ' + message['content'] + '\\n\\n' }}\
                    {% elif message['role'] == 'assistant' %}{{ '### Response: ' + message['content'] + eos_token }}\
                    {% endif %}{% endfor %}{% if add_generation_prompt %}{{ '### Response: ' }}{% endif %}"""));

    private ChatTemplates() {
    }

    /** Names accepted besides Jinja source and file paths. */
    public static Set<String> names() {
        Set<String> names = new TreeSet<>(BUILT_IN.keySet());
        names.add(TOKENIZER_DEFAULT);
        return names;
    }

    /** The Jinja source of a built-in template, or null. */
    public static String builtIn(String name) {
        return BUILT_IN.get(name);
    }

    /**
     * Resolves the setting against the model directory whose tokenizer is used; Axolotl's
     * {@code tokenizer_default_fallback_<name>} is the model's template, else the built-in {@code <name>}.
     */
    public static ChatTemplate resolve(String setting, ModelDirectory model) {
        if (setting == null || setting.equals(TOKENIZER_DEFAULT)) {
            return ChatTemplate.fromModel(model);
        }
        if (setting.startsWith(FALLBACK)) {
            String fallback = setting.substring(FALLBACK.length());
            if (model.chatTemplate() != null) {
                return ChatTemplate.fromModel(model);
            }
            if (!BUILT_IN.containsKey(fallback)) {
                throw new CrucibleException("chat_template: unknown fallback template '" + fallback + "' (expected one of "
                        + BUILT_IN.keySet() + ")");
            }
            setting = fallback;
        }
        return of(source(setting)).withSpecialTokens(ChatTemplate.specialTokens(model.tokenizerConfig()));
    }

    private static ChatTemplate of(String source) {
        try {
            return ChatTemplate.of(source);
        } catch (CrucibleException e) {
            throw new CrucibleException("chat_template: the template does not compile: " + e.getMessage(), e);
        }
    }

    private static String source(String setting) {
        String named = BUILT_IN.get(setting);
        if (named != null) {
            return named;
        }
        if (setting.contains("{{") || setting.contains("{%")) {
            return setting;
        }
        if (setting.endsWith(".jinja")) {
            Path file = Path.of(setting);
            try {
                return Files.readString(file);
            } catch (IOException e) {
                throw new CrucibleException("chat_template: cannot read " + file + ": " + e.getMessage(), e);
            }
        }
        throw new CrucibleException("chat_template: unknown template '" + setting + "' (expected one of " + names()
                + ", a path to a .jinja file, or the Jinja source)");
    }
}
