package dev.crucible.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.CrucibleException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face model directory: {@code config.json}, optional {@code generation_config.json}, safetensors
 * weights, tokenizer files and chat template.
 */
public final class ModelDirectory {
    public static final String CONFIG = "config.json";
    public static final String GENERATION_CONFIG = "generation_config.json";
    public static final String TOKENIZER_CONFIG = "tokenizer_config.json";
    public static final String CHAT_TEMPLATE_JINJA = "chat_template.jinja";

    /** Files that make up a tokenizer as transformers saves and loads it. */
    public static final List<String> TOKENIZER_FILES = List.of("tokenizer.json", TOKENIZER_CONFIG,
            "special_tokens_map.json", "tokenizer.model", "vocab.json", "merges.txt", "added_tokens.json",
            CHAT_TEMPLATE_JINJA, "chat_template.json");

    public static final String SPECIAL_TOKENS_MAP = "special_tokens_map.json";

    private final Path path;
    /** bos_token, eos_token, ... set over the tokenizer files' (Axolotl's special_tokens); empty for none. */
    private final Map<String, String> specialTokens;
    /** config.json, parsed on first use and then shared: every loader given this handle reads the same one. */
    private ModelConfig config;

    private ModelDirectory(Path path, Map<String, String> specialTokens, ModelConfig config) {
        this.path = path;
        this.specialTokens = Map.copyOf(specialTokens);
        this.config = config;
    }

    public static ModelDirectory open(Path path) {
        if (!Files.isDirectory(path)) {
            throw new CrucibleException(path + ": model directory not found");
        }
        if (!Files.isRegularFile(path.resolve(CONFIG))) {
            throw new CrucibleException(path + ": not a Hugging Face model directory (no config.json)");
        }
        return new ModelDirectory(path, Map.of(), null);
    }

    /**
     * This directory with its special tokens ({@code bos_token}, {@code eos_token}, {@code pad_token}, ...) set to
     * {@code tokens}: what {@link #tokenizerConfig}, {@link #specialTokensMap} and {@link #copyTokenizerTo} give, as a
     * tokenizer saved after transformers' {@code add_special_tokens} would hold them. The files are not touched.
     */
    public ModelDirectory withSpecialTokens(Map<String, String> tokens) {
        return new ModelDirectory(path, tokens, config);
    }

    public Path path() {
        return path;
    }

    /** config.json (immutable: read once per handle). */
    public synchronized ModelConfig config() {
        if (config == null) {
            config = ModelConfig.read(path.resolve(CONFIG));
        }
        return config;
    }

    /** {@code generation_config.json} as JSON, or null when the directory has none. */
    public JsonNode generationConfig() {
        return readJsonOrNull(path.resolve(GENERATION_CONFIG));
    }

    /** {@code tokenizer_config.json} as JSON (with the special-token overrides), or null. */
    public JsonNode tokenizerConfig() {
        JsonNode json = tokenizerConfig(path);
        return json == null && !specialTokens.isEmpty() ? withOverrides(new ObjectMapper().createObjectNode()) : withOverrides(json);
    }

    /** {@code special_tokens_map.json} as JSON (with the special-token overrides), or null when there is none. */
    public JsonNode specialTokensMap() {
        return withOverrides(specialTokensMap(path));
    }

    /**
     * The text of a special token as {@code tokenizer_config.json} and {@code special_tokens_map.json} give it: a
     * string, or an AddedToken object ({@code {"content": "<s>", ...}}, transformers 4); null when absent, null, or
     * neither (the caller decides whether that is an error).
     */
    public static String tokenText(JsonNode token) {
        if (token == null || token.isNull()) {
            return null;
        }
        if (token.isTextual()) {
            return token.textValue();
        }
        JsonNode content = token.isObject() ? token.get("content") : null;
        return content != null && content.isTextual() ? content.textValue() : null;
    }

    /**
     * The one reader of {@code tokenizer_config.json}: that file of {@code dir} (a model directory or a tokenizer's
     * alone, as the GGUF converter and tokenizer fixtures have them) as JSON, or null when there is none.
     */
    public static JsonNode tokenizerConfig(Path dir) {
        return readJsonOrNull(dir.resolve(TOKENIZER_CONFIG));
    }

    /** {@code special_tokens_map.json} of {@code dir} as JSON, or null when there is none. */
    public static JsonNode specialTokensMap(Path dir) {
        return readJsonOrNull(dir.resolve(SPECIAL_TOKENS_MAP));
    }

    private JsonNode withOverrides(JsonNode json) {
        if (json == null || specialTokens.isEmpty() || !json.isObject()) {
            return json;
        }
        ObjectNode copy = ((ObjectNode) json).deepCopy();
        specialTokens.forEach(copy::put);
        return copy;
    }

    public Checkpoint openCheckpoint() {
        return Checkpoint.open(path);
    }

    public boolean hasTokenizer() {
        return Files.isRegularFile(path.resolve("tokenizer.json")) || Files.isRegularFile(path.resolve("tokenizer.model"));
    }

    /** The tokenizer files present in this directory. */
    public List<Path> tokenizerFiles() {
        List<Path> out = new ArrayList<>();
        for (String name : TOKENIZER_FILES) {
            Path p = path.resolve(name);
            if (Files.isRegularFile(p)) {
                out.add(p);
            }
        }
        return out;
    }

    /**
     * The default chat template: {@code chat_template.jinja} if present (transformers 5 saves it there),
     * else {@code tokenizer_config.json}'s {@code chat_template} (a string, or a list of named templates of
     * which "default" is taken); null when the model has none.
     */
    public String chatTemplate() {
        Path jinja = path.resolve(CHAT_TEMPLATE_JINJA);
        try {
            if (Files.isRegularFile(jinja)) {
                return Files.readString(jinja);
            }
        } catch (IOException e) {
            throw new CrucibleException(jinja + ": cannot read: " + e.getMessage(), e);
        }
        JsonNode tc = tokenizerConfig();
        JsonNode t = tc == null ? null : tc.get("chat_template");
        if (t == null || t.isNull()) {
            return null;
        }
        if (t.isTextual()) {
            return t.asText();
        }
        if (t.isArray()) {
            for (JsonNode named : t) {
                if ("default".equals(named.path("name").asText())) {
                    return named.path("template").asText();
                }
            }
            return t.isEmpty() ? null : t.get(0).path("template").asText();
        }
        throw new CrucibleException(path.resolve(TOKENIZER_CONFIG) + ": chat_template must be a string or a list");
    }

    /** Copies every tokenizer file (and so the chat template) into {@code dest}, with the special-token overrides. */
    public void copyTokenizerTo(Path dest) {
        for (Path f : tokenizerFiles()) {
            String name = f.getFileName().toString();
            try {
                if (!specialTokens.isEmpty() && (name.equals(TOKENIZER_CONFIG) || name.equals(SPECIAL_TOKENS_MAP))) {
                    JsonNode json = name.equals(TOKENIZER_CONFIG) ? tokenizerConfig() : specialTokensMap();
                    Files.writeString(dest.resolve(name), new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                            .writeValueAsString(json) + "\n");
                } else {
                    Files.copy(f, dest.resolve(name), StandardCopyOption.REPLACE_EXISTING);
                }
            } catch (IOException e) {
                throw new CrucibleException(f + ": cannot copy to " + dest + ": " + e.getMessage(), e);
            }
        }
        if (!specialTokens.isEmpty() && !Files.isRegularFile(path.resolve(TOKENIZER_CONFIG))) {
            try {
                Files.writeString(dest.resolve(TOKENIZER_CONFIG), tokenizerConfig().toPrettyString() + "\n");
            } catch (IOException e) {
                throw new CrucibleException(dest + ": cannot write " + TOKENIZER_CONFIG + ": " + e.getMessage(), e);
            }
        }
    }

    static JsonNode readJsonOrNull(Path file) {
        if (!Files.isRegularFile(file)) {
            return null;
        }
        try {
            return new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new CrucibleException(file + ": not valid JSON: " + JsonErrors.describe(e), e);
        }
    }
}
