package dev.crucible.template;

import dev.crucible.CrucibleException;
import dev.crucible.io.ModelDirectory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The one catalogue of built-in chat templates and the one lookup of a {@code chat_template} setting by name.
 * The texts are data, under {@code resources/dev/crucible/template/chat_templates} (SOURCES.md there names where
 * each comes from). Axolotl and mergekit both offer templates called {@code alpaca} and {@code llama3} with
 * different texts, and their users expect their own tool's: a name is looked up in the {@link Convention} of the
 * config it appears in (an SFT config follows Axolotl, a merge config mergekit).
 */
public final class ChatTemplates {
    public static final String TOKENIZER_DEFAULT = "tokenizer_default";
    private static final String FALLBACK = "tokenizer_default_fallback_";
    private static final String MERGEKIT_AUTO = "auto";

    /** Whose names a config uses, and which catalogue file each name means there. */
    public enum Convention {
        /**
         * Axolotl's {@code chat_template} (SFT configs): its {@code chatml} renders as mergekit's file does, so
         * the two share it; its {@code alpaca} and {@code llama3} are Axolotl's texts.
         */
        AXOLOTL(Map.of("alpaca", "alpaca-axolotl", "chatml", "chatml", "llama3", "llama3-axolotl")),
        /** mergekit's {@code chat_template} (merge configs): mergekit's bundled files, written out byte for byte. */
        MERGEKIT(Map.of("alpaca", "alpaca", "chatml", "chatml", "exaone", "exaone", "llama3", "llama3",
                "mistral", "mistral"));

        private final Map<String, String> files;

        Convention(Map<String, String> files) {
            this.files = files;
        }

        /** The built-in names of this convention. */
        public Set<String> names() {
            return new TreeSet<>(files.keySet());
        }
    }

    private ChatTemplates() {
    }

    /** The Jinja source of a built-in template in the given convention, or null when the name is not built in. */
    public static String builtIn(Convention convention, String name) {
        String file = convention.files.get(name);
        if (file == null) {
            return null;
        }
        try (InputStream in = ChatTemplates.class.getResourceAsStream("chat_templates/" + file + ".jinja")) {
            if (in == null) {
                throw new IllegalStateException("built-in chat template " + file + " missing from the jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Names accepted by {@link #resolve} besides Jinja source and file paths. */
    public static Set<String> names() {
        Set<String> names = Convention.AXOLOTL.names();
        names.add(TOKENIZER_DEFAULT);
        return names;
    }

    /**
     * Resolves an SFT config's setting as Axolotl reads it, against the model directory whose tokenizer is used:
     * {@code tokenizer_default} (or unset) for the model's own template; a built-in name ({@code chatml},
     * {@code llama3}, {@code alpaca}); {@code tokenizer_default_fallback_<name>} (the model's template, else the
     * built-in {@code <name>}); a path to a {@code .jinja} file; or the Jinja source itself. The template gets the
     * model's special tokens ({@code bos_token}, {@code eos_token}, ...) from its {@code tokenizer_config.json}.
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
            if (builtIn(Convention.AXOLOTL, fallback) == null) {
                throw new CrucibleException("chat_template: unknown fallback template '" + fallback + "' (expected one of "
                        + Convention.AXOLOTL.names() + ")");
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
        String named = builtIn(Convention.AXOLOTL, setting);
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

    /** Checks a merge config's {@code chat_template} as mergekit does: a built-in name, {@code auto}, or Jinja. */
    public static void validateMergekit(String value) {
        if (value.equals(MERGEKIT_AUTO) || builtIn(Convention.MERGEKIT, value) != null) {
            return;
        }
        if (value.length() < 20 || !value.contains("{")) {
            throw new CrucibleException("chat_template: '" + value + "' is neither a built-in template "
                    + Convention.MERGEKIT.names() + ", 'auto', nor a Jinja template");
        }
    }

    /**
     * A merge config's {@code chat_template} as the text mergekit writes: the built-in's file, or the value itself
     * when it is Jinja; null for {@code auto} (the caller picks the inputs' most common template).
     */
    public static String mergekitSource(String value) {
        if (value.equals(MERGEKIT_AUTO)) {
            return null;
        }
        String named = builtIn(Convention.MERGEKIT, value);
        return named != null ? named : value;
    }
}
