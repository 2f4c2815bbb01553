package dev.crucible.merge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.CrucibleException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The output vocabulary of a merge with a {@code tokenizer} / {@code tokenizer_source} setting, built from the
 * models' {@code tokenizer.json} files (read as JSON, no native tokenizer library), and for every model the map
 * from output token id to its own row (mergekit's {@code tokenizer/build.py} semantics):
 * <ul>
 * <li>the reference vocabulary is the base model's (else the first model's), stripped of ids at or above its
 *     config's {@code vocab_size};</li>
 * <li>{@code union} appends every other model's regular tokens the reference lacks, then all added tokens, first
 *     definition winning, each as an added token at the next id;</li>
 * <li>{@code tokens:} keys are added when absent.</li>
 * </ul>
 */
public final class TokenizerMerge {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A tokenizer.json vocabulary: token to id, which tokens are added tokens, and the JSON it came from. */
    record Vocab(Map<String, Integer> ids, Map<String, JsonNode> added, ObjectNode json) {
        static Vocab read(Path file) {
            ObjectNode json;
            try {
                JsonNode n = JSON.readTree(file.toFile());
                if (!(n instanceof ObjectNode o)) {
                    throw new CrucibleException(file + ": expected a JSON object");
                }
                json = o;
            } catch (IOException e) {
                throw new CrucibleException(file + ": not valid JSON: " + e.getMessage(), e);
            }
            Map<String, Integer> ids = new LinkedHashMap<>();
            JsonNode vocab = json.path("model").path("vocab");
            if (vocab.isObject()) {
                vocab.fields().forEachRemaining(e -> ids.put(e.getKey(), e.getValue().asInt()));
            } else if (vocab.isArray()) { // Unigram: [piece, score] pairs, id = position
                for (int i = 0; i < vocab.size(); i++) {
                    ids.put(vocab.get(i).get(0).asText(), i);
                }
            } else {
                throw new CrucibleException(file + ": model.vocab missing (expected an object or a list)");
            }
            Map<String, JsonNode> added = new LinkedHashMap<>();
            for (JsonNode t : json.path("added_tokens")) {
                ids.put(t.path("content").asText(), t.path("id").asInt());
                added.put(t.path("content").asText(), t);
            }
            return new Vocab(ids, added, json);
        }

        List<String> byId() {
            List<Map.Entry<String, Integer>> es = new ArrayList<>(ids.entrySet());
            es.sort(Map.Entry.comparingByValue());
            return es.stream().map(Map.Entry::getKey).toList();
        }
    }

    /**
     * The merged vocabulary.
     *
     * @param tokens       output tokens by id (without padding)
     * @param size         rows of the merged embeddings: tokens padded to {@code pad_to_multiple_of}
     * @param permutations for each model, output id to the model's row, or -1 when it lacks the token
     * @param originalIds  each model's own token to id map (for {@code model_token} sources)
     * @param tokenizerJson the output tokenizer.json, or null when the donor's file can be copied unchanged
     * @param donor        the model whose tokenizer files are copied / edited
     */
    public record Result(List<String> tokens, int size, Map<ModelRef, int[]> permutations,
                         Map<ModelRef, Map<String, Integer>> originalIds, ObjectNode tokenizerJson, ModelRef donor) {
    }

    private TokenizerMerge() {
    }

    public static Result build(MergeConfig.TokenizerSpec spec, ModelRef base, List<InputModel> models) {
        Map<ModelRef, InputModel> byRef = new LinkedHashMap<>();
        models.forEach(m -> byRef.put(m.ref(), m));
        ModelRef reference = base != null ? base : models.getFirst().ref();
        Map<ModelRef, Vocab> vocabs = new LinkedHashMap<>();
        for (InputModel m : models) {
            Path f = m.directory().path().resolve("tokenizer.json");
            if (Files.isRegularFile(f)) {
                vocabs.put(m.ref(), Vocab.read(f));
            } else if (m.ref().equals(reference) || m.ref().equals(spec.model())) {
                throw new CrucibleException("tokenizer: " + m.ref() + " has no tokenizer.json (a tokenizer merge "
                        + "reads the Hugging Face fast tokenizer file)");
            } else {
                System.err.println("warning: " + m.ref() + " has no tokenizer.json; assuming the vocabulary of "
                        + reference);
            }
        }
        Vocab ref = vocabs.get(reference);
        int refSize = vocabSize(byRef.get(reference), ref);
        // The reference stripped of ids past its embedding matrix.
        Map<String, Integer> out = new LinkedHashMap<>();
        List<JsonNode> outAdded = new ArrayList<>();
        for (String tok : ref.byId()) {
            int id = ref.ids.get(tok);
            if (id < refSize) {
                out.put(tok, id);
                if (ref.added.containsKey(tok)) {
                    outAdded.add(ref.added.get(tok));
                }
            }
        }
        boolean changed = out.size() != ref.ids.size();
        ObjectNode donorJson = ref.json;
        ModelRef donor = reference;
        if (spec.source().equals("model")) {
            Vocab v = vocabs.get(spec.model());
            out = new LinkedHashMap<>(v.ids);
            outAdded = new ArrayList<>(v.added.values());
            donorJson = v.json;
            donor = spec.model();
            changed = false;
        } else if (spec.source().equals("union")) {
            Map<String, Boolean> regular = new LinkedHashMap<>();
            Map<String, JsonNode> added = new LinkedHashMap<>();
            List<ModelRef> order = new ArrayList<>(vocabs.keySet());
            order.remove(reference);
            order.addFirst(reference);
            for (ModelRef r : order) {
                Vocab v = vocabs.get(r);
                int size = vocabSize(byRef.get(r), v);
                for (String tok : v.byId()) {
                    if (v.ids.get(tok) < size && !v.added.containsKey(tok)) {
                        regular.putIfAbsent(tok, true);
                    }
                }
                v.added.forEach((tok, node) -> {
                    if (node.path("id").asInt() < size) {
                        added.putIfAbsent(tok, node);
                    }
                });
            }
            for (String tok : regular.keySet()) {
                if (!added.containsKey(tok) && !out.containsKey(tok)) {
                    outAdded.add(addedToken(tok, out.size(), false));
                    out.put(tok, out.size());
                    changed = true;
                }
            }
            for (Map.Entry<String, JsonNode> e : added.entrySet()) {
                if (!out.containsKey(e.getKey())) {
                    ObjectNode n = ((ObjectNode) e.getValue()).deepCopy();
                    n.put("id", out.size());
                    outAdded.add(n);
                    out.put(e.getKey(), out.size());
                    changed = true;
                }
            }
        }
        for (String tok : spec.tokens().keySet()) {
            if (!out.containsKey(tok)) {
                outAdded.add(addedToken(tok, out.size(), false));
                out.put(tok, out.size());
                changed = true;
            }
        }
        List<String> tokens = new ArrayList<>(out.size());
        for (int i = 0; i < out.size(); i++) {
            tokens.add(null);
        }
        out.forEach((tok, id) -> {
            if (id >= tokens.size()) {
                throw new CrucibleException("tokenizer: token ids of " + reference + " are not contiguous (id " + id
                        + " for '" + tok + "' with " + tokens.size() + " tokens)");
            }
            tokens.set(id, tok);
        });
        int size = tokens.size();
        Integer pad = spec.padToMultipleOf();
        if (pad != null && size % pad != 0) {
            size = (size / pad + 1) * pad;
        }
        Map<ModelRef, int[]> perms = new LinkedHashMap<>();
        Map<ModelRef, Map<String, Integer>> originals = new LinkedHashMap<>();
        for (InputModel m : models) {
            Vocab v = vocabs.getOrDefault(m.ref(), ref);
            int limit = vocabSize(m, v);
            int[] p = new int[tokens.size()];
            for (int id = 0; id < tokens.size(); id++) {
                Integer orig = v.ids.get(tokens.get(id));
                p[id] = orig != null && orig < limit ? orig : -1;
            }
            perms.put(m.ref(), p);
            originals.put(m.ref(), v.ids);
        }
        ObjectNode json = changed ? rewrite(donorJson, out, outAdded) : null;
        return new Result(List.copyOf(tokens), size, perms, originals, json, donor);
    }

    private static int vocabSize(InputModel m, Vocab v) {
        return m.config().intOr("vocab_size", v.ids.size());
    }

    private static ObjectNode addedToken(String content, int id, boolean special) {
        ObjectNode n = JSON.createObjectNode();
        n.put("id", id);
        n.put("content", content);
        n.put("single_word", false);
        n.put("lstrip", false);
        n.put("rstrip", false);
        n.put("normalized", !special);
        n.put("special", special);
        return n;
    }

    /** The donor's tokenizer.json with the model vocabulary stripped to {@code out} and the added tokens replaced. */
    private static ObjectNode rewrite(ObjectNode donor, Map<String, Integer> out, List<JsonNode> added) {
        ObjectNode json = donor.deepCopy();
        Set<String> addedContent = new HashSet<>();
        ArrayNode arr = json.putArray("added_tokens");
        for (JsonNode a : added) {
            arr.add(a);
            addedContent.add(a.path("content").asText());
        }
        JsonNode vocab = json.path("model").path("vocab");
        if (vocab instanceof ObjectNode vo) {
            List<String> drop = new ArrayList<>();
            vo.fieldNames().forEachRemaining(tok -> {
                if (!out.containsKey(tok)) {
                    drop.add(tok);
                }
            });
            vo.remove(drop);
            JsonNode merges = json.path("model").path("merges");
            if (!drop.isEmpty() && merges instanceof ArrayNode ma) {
                Set<String> dropped = new HashSet<>(drop);
                ArrayNode kept = JSON.createArrayNode();
                for (JsonNode m : ma) {
                    List<String> parts = new ArrayList<>();
                    if (m.isArray()) {
                        m.forEach(x -> parts.add(x.asText()));
                    } else {
                        parts.addAll(List.of(m.asText().split(" ", 2)));
                    }
                    if (parts.stream().noneMatch(dropped::contains)) {
                        kept.add(m);
                    }
                }
                ((ObjectNode) json.path("model")).set("merges", kept);
            }
        }
        return json;
    }
}
