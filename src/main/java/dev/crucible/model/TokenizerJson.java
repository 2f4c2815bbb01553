package dev.crucible.model;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.CrucibleException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
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
 *
 * <p>Only {@code model.type}, {@code model.vocab} and {@code added_tokens} are read, with a streaming parser
 * that skips the rest (a real BPE file is mostly merges); the full tree is built only if a token must be added.
 */
final class TokenizerJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;
    private final String original;
    private final Map<String, Integer> modelVocab = new LinkedHashMap<>();
    private final Map<String, Integer> added = new LinkedHashMap<>();
    private final Map<String, Integer> tokenToId = new HashMap<>();
    private final Map<Integer, String> idToToken = new HashMap<>();
    private final List<Integer> specialIds = new ArrayList<>();
    private String modelType = "";
    private ObjectNode root; // built on the first modification

    private TokenizerJson(Path file, String original) {
        this.file = file;
        this.original = original;
    }

    static TokenizerJson read(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new CrucibleException(file + ": cannot read: " + e.getMessage(), e);
        }
        TokenizerJson json = new TokenizerJson(file, text);
        try (JsonParser p = JSON.getFactory().createParser(text)) {
            json.parse(p);
        } catch (IOException e) {
            throw new CrucibleException(file + ": not valid JSON: " + e.getMessage(), e);
        }
        return json;
    }

    private void parse(JsonParser p) throws IOException {
        if (p.nextToken() != JsonToken.START_OBJECT) {
            throw new CrucibleException(file + ": not a Hugging Face tokenizer.json (expected a JSON object)");
        }
        boolean sawModel = false;
        List<JsonNode> addedTokens = new ArrayList<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            JsonToken value = p.nextToken();
            if (field.equals("model") && value == JsonToken.START_OBJECT) {
                sawModel = true;
                parseModel(p);
            } else if (field.equals("added_tokens") && value == JsonToken.START_ARRAY) {
                while (p.nextToken() != JsonToken.END_ARRAY) {
                    addedTokens.add(p.readValueAsTree());
                }
            } else {
                p.skipChildren();
            }
        }
        if (!sawModel) {
            throw new CrucibleException(file + ": not a Hugging Face tokenizer.json (no \"model\" object)");
        }
        modelVocab.forEach(this::index);
        for (JsonNode t : addedTokens) {
            if (!t.path("content").isTextual() || !t.path("id").canConvertToInt()) {
                throw new CrucibleException(file + ": added_tokens entry needs \"id\" and \"content\": " + t);
            }
            recordAdded(t.get("content").asText(), t.get("id").asInt(), t.path("special").asBoolean(false));
        }
    }

    private void parseModel(JsonParser p) throws IOException {
        boolean sawVocab = false;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            JsonToken value = p.nextToken();
            if (field.equals("type") && value == JsonToken.VALUE_STRING) {
                modelType = p.getText();
            } else if (field.equals("vocab") && value == JsonToken.START_OBJECT) { // BPE, WordPiece, WordLevel
                sawVocab = true;
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String token = p.currentName();
                    p.nextToken();
                    modelVocab.put(token, p.getIntValue());
                }
            } else if (field.equals("vocab") && value == JsonToken.START_ARRAY) { // Unigram: [[piece, score], ...]
                sawVocab = true;
                int id = 0;
                while (p.nextToken() == JsonToken.START_ARRAY) {
                    p.nextToken();
                    modelVocab.put(p.getText(), id++);
                    while (p.nextToken() != JsonToken.END_ARRAY) {
                        p.skipChildren();
                    }
                }
            } else {
                p.skipChildren();
            }
        }
        if (!sawVocab) {
            throw new CrucibleException(file + ": model.vocab missing or not an object/list (model type "
                    + (modelType.isEmpty() ? "?" : modelType) + ")");
        }
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
        ObjectNode tree = tree();
        ArrayNode list = tree.has("added_tokens") && tree.get("added_tokens").isArray()
                ? (ArrayNode) tree.get("added_tokens") : tree.putArray("added_tokens");
        list.add(t);
        recordAdded(content, id, true);
    }

    private ObjectNode tree() {
        if (root == null) {
            try {
                root = (ObjectNode) JSON.readTree(original);
            } catch (IOException e) {
                throw new CrucibleException(file + ": not valid JSON: " + e.getMessage(), e);
            }
        }
        return root;
    }

    /** The JSON the native tokenizer is built from (the file's text when nothing was adjusted). */
    String json() {
        if (root == null) {
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
        return modelType;
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
