package dev.crucible.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.crucible.CrucibleException;
import dev.crucible.io.ModelDirectory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * gguf-py's {@code SpecialVocab}: merges, special token ids, the add-BOS/EOS/SEP flags, the chat template and
 * normalizer flags, found in tokenizer.json, tokenizer_config.json, chat_template.jinja/.json and config.json by
 * the same rules and in the same order (which token wins, which key is written first).
 */
final class SpecialVocab {
    private static final List<String> DEFAULT_TYPES = List.of("bos", "eos", "unk", "sep", "pad", "cls", "mask");
    private static final Map<String, String> ID_KEYS = Map.of("bos", "tokenizer.ggml.bos_token_id",
            "eos", "tokenizer.ggml.eos_token_id", "unk", "tokenizer.ggml.unknown_token_id",
            "sep", "tokenizer.ggml.seperator_token_id", "pad", "tokenizer.ggml.padding_token_id",
            "mask", "tokenizer.ggml.mask_token_id", "eot", "tokenizer.ggml.eot_token_id",
            "eom", "tokenizer.ggml.eom_token_id");
    private static final Map<String, String> ADD_KEYS = Map.of("bos", "tokenizer.ggml.add_bos_token",
            "eos", "tokenizer.ggml.add_eos_token", "sep", "tokenizer.ggml.add_sep_token");

    final List<String> merges = new ArrayList<>();
    final Map<String, Long> specialTokenIds = new LinkedHashMap<>();
    final Map<String, Boolean> addSpecialToken = new LinkedHashMap<>();
    /** A string, or a list of {name, template} maps; null for none. */
    Object chatTemplate;
    private Boolean normalizerLowercase;
    private Boolean normalizerStripAccents;
    private final Integer nVocab;
    private final boolean loadMerges;
    private final List<String> types;

    SpecialVocab(Path dir, boolean loadMerges, List<String> types, Integer nVocab) {
        this.nVocab = nVocab;
        this.loadMerges = loadMerges;
        this.types = new ArrayList<>(types == null ? DEFAULT_TYPES : types);
        fromTokenizerJson(dir);
        fromConfigJson(dir);
        if (loadMerges && merges.isEmpty()) {
            fromMergesTxt(dir);
        }
    }

    /** _set_special_token: the first id found for a type wins; ids outside the vocabulary are skipped. */
    void setSpecialToken(String type, JsonNode id) {
        if (id == null || !id.isIntegralNumber()) {
            return;
        }
        setSpecialToken(type, id.asLong());
    }

    void setSpecialToken(String type, long id) {
        if (id < 0) {
            throw new CrucibleException("invalid value for special token type " + type + ": " + id);
        }
        if ((nVocab == null || id < nVocab) && !specialTokenIds.containsKey(type)) {
            specialTokenIds.put(type, id);
        }
    }

    private void fromMergesTxt(Path dir) {
        Path file = dir.resolve("merges.txt");
        if (!Files.isRegularFile(file)) {
            return;
        }
        try {
            List<String> lines = Files.readAllLines(file);
            int start = !lines.isEmpty() && lines.getFirst().strip().startsWith("#") ? 1 : 0;
            for (String line : lines.subList(start, lines.size())) {
                String[] parts = line.strip().split("\\s+", 4);
                if (parts.length == 2) {
                    merges.add(parts[0] + " " + parts[1]);
                }
            }
        } catch (IOException e) {
            throw new CrucibleException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    private void parseNormalizer(JsonNode n) {
        String type = n.path("type").asText("");
        switch (type) {
            case "Lowercase" -> normalizerLowercase = true;
            case "StripAccents" -> normalizerStripAccents = true;
            case "BertNormalizer" -> {
                if (n.has("lowercase")) {
                    normalizerLowercase = n.get("lowercase").asBoolean();
                }
                if (n.has("strip_accents")) {
                    normalizerStripAccents = n.get("strip_accents").asBoolean();
                }
            }
            case "Sequence" -> n.path("normalizers").forEach(this::parseNormalizer);
            default -> {
            }
        }
    }

    /** Python truthiness of a JSON value: null, "", {}, [], 0 and false are false. */
    private static boolean truthy(JsonNode v) {
        if (v == null || v.isNull() || v.isMissingNode()) {
            return false;
        }
        if (v.isTextual()) {
            return !v.asText().isEmpty();
        }
        if (v.isContainerNode()) {
            return !v.isEmpty();
        }
        if (v.isBoolean()) {
            return v.asBoolean();
        }
        return !v.isNumber() || v.asDouble() != 0;
    }

    private static boolean pyEquals(JsonNode a, JsonNode b) {
        return a == null || a.isNull() ? b == null || b.isNull() : a.equals(b);
    }

    private static JsonNode specialTokenId(JsonNode processorEntry) {
        JsonNode id = processorEntry == null ? null : processorEntry.path("SpecialToken").get("id");
        return id == null || id.isNull() ? null : id;
    }

    private void fromTokenizerJson(Path dir) {
        JsonNode tokenizer = GeneralMetadata.readJson(dir.resolve("tokenizer.json"));
        JsonNode addedTokens = null;
        if (tokenizer != null) {
            if (loadMerges) {
                JsonNode m = tokenizer.path("model").get("merges");
                if (m instanceof ArrayNode arr && !arr.isEmpty()) {
                    if (arr.get(0).isTextual()) {
                        arr.forEach(x -> merges.add(x.asText()));
                    } else if (arr.get(0).isArray() && arr.get(0).size() == 2 && arr.get(0).get(0).isTextual()) {
                        for (JsonNode pair : arr) {
                            merges.add(spaceEncoded(pair.get(0).asText()) + " " + spaceEncoded(pair.get(1).asText()));
                        }
                    } else {
                        throw new CrucibleException(dir.resolve("tokenizer.json") + ": unknown tokenizer merges format");
                    }
                }
            }
            JsonNode normalizer = tokenizer.get("normalizer");
            if (truthy(normalizer)) {
                parseNormalizer(normalizer);
            }
            addedTokens = tokenizer.get("added_tokens");
        }
        JsonNode configNode = ModelDirectory.tokenizerConfig(dir);
        ObjectNode config = configNode instanceof ObjectNode o ? o.deepCopy() : null;
        if (tokenizer != null) {
            templateProcessing(tokenizer, config);
        }
        if (config == null || config.isEmpty()) {
            return;
        }
        Object alt = null;
        Path jinja = dir.resolve("chat_template.jinja");
        Path json = dir.resolve("chat_template.json");
        if (Files.isRegularFile(jinja)) {
            alt = read(jinja);
            List<Path> extra = additionalTemplates(dir);
            if (!extra.isEmpty()) {
                List<Map<String, String>> list = new ArrayList<>();
                list.add(Map.of("name", "default", "template", (String) alt));
                for (Path p : extra) {
                    String n = p.getFileName().toString();
                    list.add(Map.of("name", n.substring(0, n.length() - ".jinja".length()), "template", read(p)));
                }
                alt = list;
            }
        } else if (Files.isRegularFile(json)) {
            JsonNode t = GeneralMetadata.readJson(json);
            alt = t == null ? null : templateValue(t.get("chat_template"));
        }
        Object template = config.has("chat_template") ? templateValue(config.get("chat_template")) : alt;
        if (template == null || template instanceof String || template instanceof List) {
            chatTemplate = template;
        }
        for (String type : types) {
            JsonNode add = config.get("add_" + type + "_token");
            if (add != null && add.isBoolean()) {
                addSpecialToken.put(type, add.asBoolean());
            }
            JsonNode entry = config.get(type + "_token");
            String content;
            if (entry != null && entry.isTextual()) {
                content = entry.asText();
            } else if (entry != null && entry.isObject() && entry.path("content").isTextual()) {
                content = entry.get("content").asText();
            } else {
                continue;
            }
            JsonNode id = null;
            if (addedTokens != null) {
                for (JsonNode t : addedTokens) {
                    if (content.equals(t.path("content").asText(null))) {
                        id = t.get("id");
                        break;
                    }
                }
            }
            setSpecialToken(type, id);
        }
    }

    private static List<Path> additionalTemplates(Path dir) {
        Path d = dir.resolve("additional_chat_templates");
        if (!Files.isDirectory(d)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(d)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".jinja")).sorted().toList();
        } catch (IOException e) {
            throw new CrucibleException(d + ": cannot list: " + e.getMessage(), e);
        }
    }

    /** A chat_template value: a string, a list of {name, template}, or something the converter ignores. */
    private static Object templateValue(JsonNode v) {
        if (v == null || v.isNull()) {
            return null;
        }
        if (v.isTextual()) {
            return v.asText();
        }
        if (v.isArray()) {
            List<Map<String, String>> list = new ArrayList<>();
            for (JsonNode e : v) {
                Map<String, String> m = new LinkedHashMap<>();
                if (e.path("name").isTextual()) {
                    m.put("name", e.get("name").asText());
                }
                if (e.path("template").isTextual()) {
                    m.put("template", e.get("template").asText());
                }
                list.add(m);
            }
            return list;
        }
        return v; // neither: kept out by the caller, as the converter warns and ignores it
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new CrucibleException(p + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** The converter encodes a space inside a merge part as U+0120, as GPT-2's byte map does. */
    private static String spaceEncoded(String part) {
        return part.replace(' ', (char) (' ' + 256));
    }

    /** The post-processor rules of SpecialVocab._try_load_from_tokenizer_json, mutating the config as it does. */
    private void templateProcessing(JsonNode tokenizer, ObjectNode config) {
        JsonNode bos = config == null ? null : config.get("bos_token");
        JsonNode cls = config == null ? null : config.get("cls_token");
        JsonNode eos = config == null ? null : config.get("eos_token");
        JsonNode sep = config == null ? null : config.get("sep_token");
        boolean configTruthy = config != null && !config.isEmpty();
        if (!truthy(bos) && truthy(cls) && configTruthy) {
            config.set("bos_token", cls);
            bos = cls;
        }
        if (!truthy(eos) && truthy(sep) && configTruthy) {
            config.set("eos_token", sep);
            eos = sep;
        }
        JsonNode post = tokenizer.get("post_processor");
        if (!truthy(post)) {
            return;
        }
        List<JsonNode> processors = new ArrayList<>();
        if (post.has("processors")) {
            post.get("processors").forEach(processors::add);
        } else {
            processors.add(post);
        }
        for (JsonNode p : processors) {
            String type = p.path("type").asText("");
            if (type.equals("RobertaProcessing")) {
                addSpecialToken.put("bos", true);
                addSpecialToken.put("eos", true);
                addSpecialToken.put("sep", true);
                if (!truthy(cls) && configTruthy) {
                    cls = p.has("cls") ? p.get("cls").get(0) : bos;
                    config.set("cls_token", cls);
                }
                if (!truthy(sep) && configTruthy) {
                    sep = p.has("sep") ? p.get("sep").get(0) : eos;
                    config.set("sep_token", sep);
                }
                continue;
            }
            if (!type.equals("TemplateProcessing")) {
                continue;
            }
            JsonNode single = p.path("single");
            JsonNode pair = p.path("pair");
            JsonNode first = null;
            JsonNode last = null;
            if (single.size() > 1) {
                first = specialTokenId(single.get(0));
                if (truthy(first)) {
                    if (!configTruthy) {
                        bos = first;
                    } else if (!pyEquals(first, bos) && !pyEquals(first, cls)) {
                        if (!truthy(bos)) {
                            config.set("bos_token", first);
                            bos = first;
                        }
                        if (!truthy(cls)) {
                            config.set("cls_token", first);
                            cls = first;
                        }
                    }
                    addSpecialToken.put("bos", pyEquals(first, bos) || pyEquals(first, cls));
                }
                last = specialTokenId(single.get(single.size() - 1));
                if (truthy(last)) {
                    if (!configTruthy) {
                        eos = last;
                    } else if (!pyEquals(last, eos)) {
                        if (!types.contains("eot")) {
                            types.add("eot");
                            config.set("eot_token", eos == null ? com.fasterxml.jackson.databind.node.NullNode.instance : eos);
                        } else if (!types.contains("eom")) {
                            types.add("eom");
                            config.set("eom_token", eos == null ? com.fasterxml.jackson.databind.node.NullNode.instance : eos);
                        }
                        config.set("eos_token", last);
                        eos = last;
                    }
                    addSpecialToken.put("eos", pyEquals(last, eos));
                }
            }
            if (pair.size() > 0) {
                int start = truthy(first) && pyEquals(specialTokenId(pair.get(0)), first) ? 1 : 0;
                int stop = truthy(last) && pyEquals(specialTokenId(pair.get(pair.size() - 1)), last) ? pair.size() - 1
                        : pair.size();
                List<JsonNode> inner = new ArrayList<>();
                for (int i = start; i < stop; i++) {
                    inner.add(pair.get(i));
                }
                if (!inner.isEmpty()) {
                    String a = inner.getFirst().path("Sequence").path("id").asText(null);
                    String b = inner.getLast().path("Sequence").path("id").asText(null);
                    if ("A".equals(a) && "B".equals(b) && inner.size() > 2) {
                        List<JsonNode> middle = inner.subList(1, inner.size() - 1);
                        boolean addSep = false;
                        JsonNode entry = specialTokenId(middle.getFirst());
                        if (truthy(entry) && (pyEquals(entry, sep) || pyEquals(entry, eos)) && !truthy(last)) {
                            addSep = true;
                        }
                        if (middle.size() == 2) {
                            JsonNode second = specialTokenId(middle.get(1));
                            if (truthy(second) && (pyEquals(second, sep) || pyEquals(second, eos))) {
                                addSep = true;
                            }
                        }
                        addSpecialToken.put("sep", addSep);
                        if (addSep && !truthy(sep) && configTruthy) {
                            config.set("sep_token", eos == null ? com.fasterxml.jackson.databind.node.NullNode.instance : eos);
                            sep = eos;
                        }
                    }
                }
            }
        }
    }

    private void fromConfigJson(Path dir) {
        JsonNode config = GeneralMetadata.readJson(dir.resolve("config.json"));
        if (config == null) {
            return;
        }
        for (String type : types) {
            JsonNode id = config.get(type + "_token_id");
            if ((id == null || id.isNull()) && config.has("text_config")) {
                id = config.get("text_config").get(type + "_token_id");
            }
            setSpecialToken(type, id);
        }
    }

    /** add_to_gguf: writes what was found, in the converter's order. */
    void write(GgufMetadata kv) {
        if (!merges.isEmpty()) {
            kv.put("tokenizer.ggml.merges", GgufValue.strings(merges));
        }
        specialTokenIds.forEach((type, id) -> {
            String key = ID_KEYS.get(type);
            if (key != null) {
                kv.put(key, GgufValue.uint32(id));
            }
        });
        addSpecialToken.forEach((type, value) -> {
            String key = ADD_KEYS.get(type);
            if (key != null) {
                kv.put(key, GgufValue.bool(value));
            }
        });
        if (chatTemplate != null) {
            writeChatTemplate(kv, chatTemplate);
        }
        if (normalizerLowercase != null) {
            kv.put("tokenizer.ggml.normalizer.lowercase", GgufValue.bool(normalizerLowercase));
        }
        if (normalizerStripAccents != null) {
            kv.put("tokenizer.ggml.normalizer.strip_accents", GgufValue.bool(normalizerStripAccents));
        }
    }

    @SuppressWarnings("unchecked")
    private static void writeChatTemplate(GgufMetadata kv, Object value) {
        if (value instanceof String s) {
            if (!s.isEmpty()) {
                kv.put("tokenizer.chat_template", GgufValue.string(s));
            }
            return;
        }
        String defaultTemplate = null;
        List<String> names = new ArrayList<>();
        for (Map<String, String> choice : (List<Map<String, String>>) value) {
            StringBuilder name = new StringBuilder();
            for (char c : choice.getOrDefault("name", "").toCharArray()) {
                name.append(c < 128 && Character.isLetterOrDigit(c) ? c : '_');
            }
            String template = choice.get("template");
            if (!name.isEmpty() && template != null) {
                if (name.toString().equals("default")) {
                    defaultTemplate = template;
                } else {
                    if (!names.contains(name.toString())) {
                        names.add(name.toString());
                    }
                    if (!template.isEmpty()) {
                        kv.put("tokenizer.chat_template." + name, GgufValue.string(template));
                    }
                }
            }
        }
        if (!names.isEmpty()) {
            kv.put("tokenizer.chat_templates", GgufValue.strings(names));
        }
        if (defaultTemplate != null && !defaultTemplate.isEmpty()) {
            kv.put("tokenizer.chat_template", GgufValue.string(defaultTemplate));
        }
    }

    static TextNode text(String s) {
        return TextNode.valueOf(s);
    }
}
