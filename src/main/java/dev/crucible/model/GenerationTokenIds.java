package dev.crucible.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crucible.io.ModelConfig;
import dev.crucible.io.ModelDirectory;

import java.util.ArrayList;
import java.util.List;

/**
 * The token ids generation uses, as transformers' {@code GenerationConfig} resolves them: each key from
 * {@code generation_config.json} when it states it, else from {@code config.json}. {@code eos_token_id} may be a
 * list (Llama 3 instruct models stop on any of three tokens).
 */
public record GenerationTokenIds(Integer bos, List<Integer> eos, Integer pad) {
    public GenerationTokenIds {
        eos = List.copyOf(eos);
    }

    public static GenerationTokenIds read(ModelDirectory dir) {
        return of(dir.generationConfig(), dir.config());
    }

    /** Resolves from a parsed {@code generation_config.json} (may be null) and the model config. */
    public static GenerationTokenIds of(JsonNode generationConfig, ModelConfig config) {
        return new GenerationTokenIds(first(ids(generationConfig, config, "bos_token_id")),
                ids(generationConfig, config, "eos_token_id"), first(ids(generationConfig, config, "pad_token_id")));
    }

    /**
     * The ids that end generation: these eos ids, plus the tokenizer's eos when it is not among them (a chat
     * model's tokenizer eos, e.g. {@code <|im_end|>}, always ends a turn).
     */
    public List<Integer> stopIds(Tokenizer tokenizer) {
        List<Integer> out = new ArrayList<>(eos);
        Integer tokEos = tokenizer.eosTokenId();
        if (tokEos != null && !out.contains(tokEos)) {
            out.add(tokEos);
        }
        return out;
    }

    private static List<Integer> ids(JsonNode generationConfig, ModelConfig config, String key) {
        if (generationConfig != null && generationConfig.has(key) && !generationConfig.get(key).isNull()) {
            List<Integer> out = new ArrayList<>();
            JsonNode n = generationConfig.get(key);
            if (n.isArray()) {
                n.forEach(x -> out.add(x.asInt()));
            } else if (n.isNumber()) {
                out.add(n.asInt());
            }
            return out;
        }
        return config.tokenIds(key);
    }

    private static Integer first(List<Integer> ids) {
        return ids.isEmpty() ? null : ids.get(0);
    }
}
