package dev.crucible.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.CrucibleException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A parsed {@code tokenizer.json}: the vocabulary (model vocab plus added tokens) for id/token lookups, and the
 * adjustments transformers 5 makes to the backend tokenizer when it loads it, applied to the JSON before the
 * native library sees it (so the Rust tokenizer behaves exactly as transformers' {@code TokenizersBackend}).
 */
final class TokenizerJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;
    private final ObjectNode root;
    private final Map<String, Integer> modelVocab;
    private final Map<String, Integer> added = new LinkedHashMap<>();
    private final Map<String, Integer> tokenToId = new HashMap<>();
    private final Map<Integer, String> idToToken = new HashMap<>();
    private final List<Integer> specialIds = new ArrayList<>();
    private boolean modified;

    private TokenizerJson(Path file, ObjectNode root) {
        this.file = file;
        this.root = root;
        this.modelVocab = readModelVocab();
        modelVocab.forEach(this::index);
        JsonNode addedTokens = root.path("added_tokens");
        for (JsonNode t : addedTokens) {
            if (!t.path("content").isTextual() || !t.path("id").canConvertToInt()) {
                throw new CrucibleException(file + ": added_tokens entry needs \"id\" and \"content\": " + t);
            }
            recordAdded(t.get("content").asText(), t.get("id").asInt(), t.path("special").asBoolean(false));
        }
    }

    static TokenizerJson read(Path file) {
        try {
            JsonNode node = JSON.readTree(file.toFile());
            if (node == null || !node.isObject() || !node.path("model").isObject()) {
                throw new CrucibleException(file + ": not a Hugging Face tokenizer.json (no \"model\" object)");
            }
            return new TokenizerJson(file, (ObjectNode) node);
        } catch (IOException e) {
            throw new CrucibleException(file + ": not valid JSON: " + e.getMessage(), e);
        }
    }

    private Map<String, Integer> readModelVocab() {
        JsonNode model = root.get("model");
        JsonNode vocab = model.get("vocab");
        Map<String, Integer> out = new LinkedHashMap<>();
        if (vocab != null && vocab.isObject()) { // BPE, WordPiece, WordLevel
            for (Map.Entry<String, JsonNode> e : vocab.properties()) {
                out.put(e.getKey(), e.getValue().asInt());
            }
        } else if (vocab != null && vocab.isArray()) { // Unigram: [[piece, score], ...], id = position
            int id = 0;
            for (JsonNode piece : vocab) {
                out.put(piece.path(0).asText(), id++);
            }
        } else {
            throw new CrucibleException(file + ": model.vocab missing or not an object/list (model type "
                    + model.path("type").asText("?") + ")");
        }
        return out;
    }

    private void index(String token, int id) {
        tokenToId.put(token, id);
        idToToken.put(id, token);
    }

    private void recordAdded(String content, int id, boolean special) {
        added.put(content, id);
        index(content, id);
        if (special) {
            specialIds.add(id);
        }
    }

    /**
     * Adds {@code content} as a special added token unless the tokenizer already has it as an added token, as
     * transformers 5 does for every named special token of the config. The id follows the Rust library's rule:
     * the token's id in the model vocabulary if it has one, else the next id after the vocabulary and the added
     * tokens.
     */
    void addSpecialTokenIfMissing(String content) {
        if (content == null || added.containsKey(content)) {
            return;
        }
        Integer id = modelVocab.get(content);
        if (id == null) {
            int maxAdded = added.values().stream().mapToInt(Integer::intValue).max().orElse(-1);
            id = maxAdded >= modelVocab.size() || (maxAdded >= 0 && modelVocab.isEmpty())
                    ? maxAdded + 1 : modelVocab.size();
        }
        ObjectNode t = JSON.createObjectNode();
        t.put("id", id).put("content", content).put("single_word", false).put("lstrip", false)
                .put("rstrip", false).put("normalized", false).put("special", true);
        ArrayNode list = root.has("added_tokens") && root.get("added_tokens").isArray()
                ? (ArrayNode) root.get("added_tokens") : root.putArray("added_tokens");
        list.add(t);
        recordAdded(content, id, true);
        modified = true;
    }

    /** The JSON the native tokenizer is built from (the file's bytes when nothing was adjusted). */
    String json(String original) {
        if (!modified) {
            return original;
        }
        try {
            return JSON.writeValueAsString(root);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The model type: BPE, Unigram, WordPiece or WordLevel. */
    String modelType() {
        return root.path("model").path("type").asText("");
    }

    Integer id(String token) {
        return token == null ? null : tokenToId.get(token);
    }

    String token(int id) {
        return idToToken.get(id);
    }

    /** Number of distinct ids, model vocabulary plus added tokens ({@code len(tokenizer)} in transformers). */
    int size() {
        return idToToken.size();
    }

    /** Size of the model vocabulary without added tokens ({@code tokenizer.vocab_size} in transformers). */
    int modelVocabSize() {
        return modelVocab.size();
    }

    int maxId() {
        return idToToken.keySet().stream().mapToInt(Integer::intValue).max().orElse(-1);
    }

    Map<String, Integer> addedTokens() {
        return added;
    }

    List<Integer> specialIds() {
        return specialIds;
    }
}
