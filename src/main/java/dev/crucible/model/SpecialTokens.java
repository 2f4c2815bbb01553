package dev.crucible.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import dev.crucible.CrucibleException;
import dev.crucible.io.ModelDirectory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The named special tokens of a tokenizer as transformers resolves them from {@code tokenizer_config.json}
 * and {@code special_tokens_map.json}: each may be a plain string or an AddedToken object
 * ({@code {"content": "<s>", ...}}), or null/absent. A key in {@code special_tokens_map.json} wins over the
 * same key in {@code tokenizer_config.json}, as in transformers' {@code from_pretrained}.
 *
 * @param addBosToken {@code add_bos_token} when the config states it, else null; informational: transformers 5
 *                    ignores it when tokenizer.json exists (its post-processor decides), and so does Crucible
 * @param addEosToken {@code add_eos_token} when the config states it, else null (same caveat)
 * @param cleanUpTokenizationSpaces {@code clean_up_tokenization_spaces} (transformers 5 defaults it to false)
 * @param cleanUpEvenForBpe {@code clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output}:
 *                          transformers 5 skips the clean-up for BPE models unless this is set
 * @param additional {@code additional_special_tokens} / {@code extra_special_tokens} (list form)
 */
public record SpecialTokens(String bos, String eos, String pad, String unk, Boolean addBosToken,
                            Boolean addEosToken, boolean cleanUpTokenizationSpaces, boolean cleanUpEvenForBpe,
                            List<String> additional) {
    public static final SpecialTokens NONE = new SpecialTokens(null, null, null, null, null, null, false, false, List.of());

    public SpecialTokens {
        additional = List.copyOf(additional);
    }

    /** Reads the special tokens of the tokenizer in {@code dir}; both files are optional. */
    public static SpecialTokens read(Path dir) {
        return fromJson(ModelDirectory.tokenizerConfig(dir), ModelDirectory.specialTokensMap(dir),
                dir.resolve(ModelDirectory.TOKENIZER_CONFIG).toString());
    }

    /** Resolves the special tokens from the two parsed files (either may be null). */
    public static SpecialTokens fromJson(JsonNode tokenizerConfig, JsonNode specialTokensMap, String where) {
        JsonNode tc = tokenizerConfig == null ? NullNode.instance : tokenizerConfig;
        JsonNode map = specialTokensMap == null ? NullNode.instance : specialTokensMap;
        List<String> additional = new ArrayList<>();
        for (String key : List.of("additional_special_tokens", "extra_special_tokens")) {
            JsonNode list = map.has(key) ? map.get(key) : tc.get(key);
            if (list != null && list.isArray()) {
                for (JsonNode t : list) {
                    additional.add(tokenContent(t, key, where));
                }
            }
        }
        return new SpecialTokens(token(tc, map, "bos_token", where), token(tc, map, "eos_token", where),
                token(tc, map, "pad_token", where), token(tc, map, "unk_token", where),
                flag(tc, "add_bos_token", where), flag(tc, "add_eos_token", where),
                tc.path("clean_up_tokenization_spaces").asBoolean(false),
                tc.path("clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output").asBoolean(false),
                additional);
    }

    /**
     * The {@code added_tokens_decoder} of a {@code tokenizer_config.json} as content → id: it lets a config be
     * checked (and its special tokens resolved to ids) without the tokenizer.json.
     */
    public static Map<String, Integer> addedTokensDecoder(JsonNode tokenizerConfig) {
        Map<String, Integer> out = new LinkedHashMap<>();
        JsonNode dec = tokenizerConfig == null ? null : tokenizerConfig.get("added_tokens_decoder");
        if (dec != null && dec.isObject()) {
            for (Map.Entry<String, JsonNode> e : dec.properties()) {
                out.put(tokenContent(e.getValue(), "added_tokens_decoder." + e.getKey(), ModelDirectory.TOKENIZER_CONFIG),
                        Integer.parseInt(e.getKey()));
            }
        }
        return out;
    }

    private static String token(JsonNode tc, JsonNode map, String key, String where) {
        JsonNode v = map.has(key) ? map.get(key) : tc.get(key);
        return v == null ? null : tokenContent(v, key, where);
    }

    /** A token given as a string or as an AddedToken dict; null stays null. */
    static String tokenContent(JsonNode v, String key, String where) {
        String text = ModelDirectory.tokenText(v);
        if (text != null || v == null || v.isNull()) {
            return text;
        }
        throw new CrucibleException(where + ": " + key + " must be a string or an AddedToken object with"
                + " \"content\", got " + v);
    }

    private static Boolean flag(JsonNode tc, String key, String where) {
        JsonNode v = tc.get(key);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isBoolean()) {
            throw new CrucibleException(where + ": " + key + " must be true or false, got " + v);
        }
        return v.asBoolean();
    }
}
