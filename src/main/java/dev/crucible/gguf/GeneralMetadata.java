package dev.crucible.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.CrucibleException;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

import java.io.IOException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The {@code general.*} metadata llama.cpp's converter writes, found as gguf-py's {@code Metadata.load} finds
 * it: the model card's YAML front matter, then {@code _name_or_path} of config.json, then the directory's name
 * (split into basename, size label, fine-tune and version by the same heuristics), the sampling defaults of
 * generation_config.json, and a size label counted from the tensors.
 */
final class GeneralMetadata {
    private static final int UNICODE = Pattern.UNICODE_CHARACTER_CLASS | Pattern.CASE_INSENSITIVE;
    private static final Pattern VERSION = Pattern.compile("(v|iter)?\\d+([.]\\d+)*", UNICODE);
    private static final Pattern QUANT_TYPE = Pattern.compile("i?q\\d(_\\w)*|b?fp?(16|32)", UNICODE);
    private static final Pattern SIZE = Pattern.compile("(([A]|\\d+[x])?\\d+([._]\\d+)?[KMBT][\\d]?|small|mini|medium|large|x?xl)", UNICODE);
    private static final Pattern FINETUNE = Pattern.compile("chat|instruct|vision|lora", UNICODE);
    private static final Pattern TITLE_EXEMPT = Pattern.compile("^(v\\d+(?:\\.\\d+)*|\\d.*)$", Pattern.UNICODE_CHARACTER_CLASS);

    // sampling defaults (general.sampling.*) from generation_config.json
    private Object samplingSequence, samplingTopK, samplingTopP, samplingMinP, samplingXtcProbability,
            samplingXtcThreshold, samplingTemp, samplingPenaltyLastN, samplingPenaltyRepeat, samplingMirostat,
            samplingMirostatTau, samplingMirostatEta;
    String name;
    private Object author, version, organization, finetune, basename, description, quantizedBy;
    String sizeLabel;
    private Object license, licenseName, licenseLink, url, doi, uuid, repoUrl, sourceUrl, sourceDoi, sourceUuid,
            sourceRepoUrl;
    private List<Map<String, Object>> baseModels;
    private List<Map<String, Object>> datasets;
    private List<Object> tags;
    private List<Object> languages;

    /** Loads what the converter finds for the model in {@code dir} of {@code totalParams} parameters. */
    static GeneralMetadata load(Path dir, long totalParams) {
        GeneralMetadata m = new GeneralMetadata();
        m.applyModelCard(modelCard(dir), totalParams);
        JsonNode config = readJson(dir.resolve("config.json"));
        if (config != null && config.get("_name_or_path") instanceof JsonNode p && p.isTextual()
                && p.asText().chars().filter(c -> c == '/').count() <= 1) {
            m.applyModelId(p.asText(), totalParams);
        }
        m.applyModelId(dir.getFileName().toString(), totalParams);
        JsonNode gen = readJson(dir.resolve("generation_config.json"));
        if (gen != null && gen.isObject()) {
            m.samplingSequence = json(gen, "sequence", m.samplingSequence);
            m.samplingTopK = json(gen, "top_k", m.samplingTopK);
            m.samplingTopP = json(gen, "top_p", m.samplingTopP);
            m.samplingMinP = json(gen, "min_p", m.samplingMinP);
            m.samplingXtcProbability = json(gen, "xtc_probability", m.samplingXtcProbability);
            m.samplingXtcThreshold = json(gen, "xtc_threshold", m.samplingXtcThreshold);
            m.samplingTemp = json(gen, "temperature", m.samplingTemp);
            m.samplingPenaltyLastN = json(gen, "penalty_last_n", m.samplingPenaltyLastN);
            m.samplingPenaltyRepeat = json(gen, "penalty_repeat", m.samplingPenaltyRepeat);
            m.samplingMirostat = json(gen, "mirostat", m.samplingMirostat);
            m.samplingMirostatTau = json(gen, "mirostat_tau", m.samplingMirostatTau);
            m.samplingMirostatEta = json(gen, "mirostat_eta", m.samplingMirostatEta);
        }
        if (m.name == null) {
            m.name = dir.getFileName().toString();
        }
        return m;
    }

    /** Python's dict.get(key, default) on a JSON object: a present null is None. */
    private static Object json(JsonNode obj, String key, Object fallback) {
        if (!obj.has(key)) {
            return fallback;
        }
        JsonNode v = obj.get(key);
        if (v.isNull()) {
            return null;
        }
        if (v.isIntegralNumber()) {
            return v.asLong();
        }
        if (v.isNumber()) {
            return v.asDouble();
        }
        if (v.isBoolean()) {
            return v.asBoolean();
        }
        return v.isTextual() ? v.asText() : v.toString();
    }

    static JsonNode readJson(Path file) {
        if (!Files.isRegularFile(file)) {
            return null;
        }
        try {
            return new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            if (file.getFileName().toString().equals("generation_config.json")) {
                return null; // the converter ignores an unreadable generation config
            }
            throw new CrucibleException(file + ": not valid JSON: " + e.getMessage(), e);
        }
    }

    /** The YAML front matter of README.md, or an empty map. */
    static Map<String, Object> modelCard(Path dir) {
        Path readme = dir.resolve("README.md");
        if (!Files.isRegularFile(readme)) {
            return Map.of();
        }
        String content;
        try {
            content = Files.readString(readme);
        } catch (IOException e) {
            throw new CrucibleException(readme + ": cannot read: " + e.getMessage(), e);
        }
        List<String> lines = content.lines().toList();
        if (lines.isEmpty() || !lines.getFirst().equals("---")) {
            return Map.of();
        }
        StringBuilder yaml = new StringBuilder();
        for (String line : lines.subList(1, lines.size())) {
            if (line.equals("---")) {
                break;
            }
            yaml.append(line).append('\n');
        }
        String text = yaml.toString().replace("- no\n", "- \"no\"\n").replace("\t", "  ");
        if (text.isEmpty()) {
            return Map.of();
        }
        try {
            Object data = new Load(LoadSettings.builder().build()).loadFromString(text);
            if (data instanceof Map<?, ?> map) {
                Map<String, Object> out = new LinkedHashMap<>();
                map.forEach((k, v) -> out.put(String.valueOf(k), v));
                return out;
            }
            return Map.of();
        } catch (RuntimeException e) {
            throw new CrucibleException(readme + ": the YAML front matter does not parse: " + e.getMessage(), e);
        }
    }

    private void applyModelCard(Map<String, Object> card, long totalParams) {
        if (card.isEmpty()) {
            return;
        }
        name = firstString(name, card, "name");
        author = first(author, card, "author");
        version = first(version, card, "version");
        organization = first(organization, card, "organization");
        description = first(description, card, "description");
        finetune = first(finetune, card, "finetune");
        basename = first(basename, card, "basename");
        sizeLabel = firstString(sizeLabel, card, "size_label");
        sourceUrl = first(sourceUrl, card, "url");
        sourceDoi = first(sourceDoi, card, "doi");
        sourceUuid = first(sourceUuid, card, "uuid");
        sourceRepoUrl = first(sourceRepoUrl, card, "repo_url");
        name = firstString(name, card, "model_name");
        author = first(author, card, "model_author");
        version = first(version, card, "model_version");
        organization = first(organization, card, "model_organization");
        description = first(description, card, "model_description");
        finetune = first(finetune, card, "model_finetune");
        basename = first(basename, card, "model_basename");
        sizeLabel = firstString(sizeLabel, card, "model_size_label");
        sourceUrl = first(sourceUrl, card, "model_url");
        sourceDoi = first(sourceDoi, card, "model_doi");
        sourceUuid = first(sourceUuid, card, "model_uuid");
        sourceRepoUrl = first(sourceRepoUrl, card, "model_repo_url");
        name = firstString(name, card, "model_name");
        author = first(author, card, "model_creator");
        basename = first(basename, card, "model_type");
        baseModels = references(baseModels, card, totalParams, true, "base_model", "base_models", "base_model_sources");
        datasets = references(datasets, card, totalParams, false, "datasets", "dataset", "dataset_sources");
        license = first(license, card, "license");
        licenseName = first(licenseName, card, "license_name");
        licenseLink = first(licenseLink, card, "license_link");
        tags = appendTo(tags, card.get("tags"));
        tags = appendTo(tags, card.get("pipeline_tag"));
        languages = appendTo(languages, card.get("languages"));
        languages = appendTo(languages, card.get("language"));
    }

    /** {@code into} plus the references under the first of {@code keys} the card has (the converter's order). */
    private static List<Map<String, Object>> references(List<Map<String, Object>> into, Map<String, Object> card,
                                                        long totalParams, boolean model, String... keys) {
        for (String key : keys) {
            if (card.containsKey(key)) {
                List<Map<String, Object>> out = into == null ? new ArrayList<>() : into;
                for (Object id : asList(card.get(key))) {
                    out.add(reference(id, totalParams, model));
                }
                return out;
            }
        }
        return into;
    }

    private static Object first(Object current, Map<String, Object> card, String key) {
        return current == null && card.containsKey(key) ? card.get(key) : current;
    }

    private static String firstString(String current, Map<String, Object> card, String key) {
        Object v = first(current, card, key);
        return v == null ? null : v instanceof String s ? s : pythonStr(v);
    }

    private static List<Object> asList(Object value) {
        if (value instanceof String s) {
            return List.of(s);
        }
        if (value instanceof List<?> l) {
            return new ArrayList<>(l);
        }
        return List.of();
    }

    private static List<Object> appendTo(List<Object> current, Object value) {
        if (value == null) {
            return current;
        }
        List<Object> out = current == null ? new ArrayList<>() : current;
        if (value instanceof String s) {
            out.add(s);
        } else if (value instanceof List<?> l) {
            out.addAll(l);
        }
        return out;
    }

    /** A base model or dataset entry: a URL, a Hugging Face id, or a mapping taken as is. */
    private static Map<String, Object> reference(Object id, long totalParams, boolean model) {
        Map<String, Object> entry = new LinkedHashMap<>();
        if (id instanceof String s) {
            if (s.startsWith("http://") || s.startsWith("https://") || s.startsWith("ssh://")) {
                entry.put("repo_url", s);
                if (s.contains("huggingface.co")) {
                    var m = Pattern.compile("https?://huggingface.co/([^/]+/[^/]+)$").matcher(s);
                    if (m.lookingAt()) {
                        String[] c = idComponents(m.group(1), totalParams);
                        if (c[0] != null) {
                            entry.put("name", idToTitle(c[0]));
                        }
                        if (c[1] != null) {
                            entry.put("organization", idToTitle(c[1]));
                        }
                        if (c[4] != null) {
                            entry.put("version", c[4]);
                        }
                    }
                }
            } else {
                String[] c = idComponents(s, totalParams);
                if (c[0] != null) {
                    entry.put("name", idToTitle(c[0]));
                }
                if (c[1] != null) {
                    entry.put("organization", idToTitle(c[1]));
                }
                if (c[4] != null) {
                    entry.put("version", c[4]);
                }
                if (c[1] != null && c[0] != null) {
                    entry.put("repo_url", "https://huggingface.co/" + c[1] + "/" + c[0]);
                }
            }
        } else if (id instanceof Map<?, ?> map) {
            map.forEach((k, v) -> entry.put(String.valueOf(k), v));
        } else {
            throw new CrucibleException("model card: " + (model ? "base model" : "dataset") + " entry '" + id
                    + "' is not in a known format");
        }
        return entry;
    }

    private void applyModelId(String modelId, long totalParams) {
        String[] c = idComponents(modelId, totalParams);
        if (name == null && c[0] != null) {
            name = idToTitle(c[0]);
        }
        if (organization == null && c[1] != null) {
            organization = idToTitle(c[1]);
        }
        if (basename == null && c[2] != null) {
            basename = c[2];
        }
        if (finetune == null && c[3] != null) {
            finetune = c[3];
        }
        if (version == null && c[4] != null) {
            version = c[4];
        }
        if (sizeLabel == null && c[5] != null) {
            sizeLabel = c[5];
        }
    }

    /**
     * gguf-py's get_model_id_components: {full name, organization, basename, finetune, version, size label} of a
     * model id such as "org/Name-7B-Instruct-v0.2".
     */
    static String[] idComponents(String modelId, long totalParams) {
        if (modelId == null) {
            return new String[6];
        }
        if (modelId.contains(" ")) {
            return new String[] {modelId, null, null, null, null, null};
        }
        String org = null;
        String full = modelId;
        int slash = modelId.indexOf('/');
        if (slash >= 0) {
            org = modelId.substring(0, slash);
            full = modelId.substring(slash + 1);
        }
        if (org != null && !org.isEmpty() && org.charAt(0) == '.') {
            org = null;
        }
        List<String> parts = new ArrayList<>();
        for (String p : full.split("-", -1)) {
            if (!p.isEmpty()) {
                parts.add(p);
            }
        }
        List<Set<String>> types = new ArrayList<>();
        for (int i = 0; i < parts.size(); i++) {
            types.add(new LinkedHashSet<>());
        }
        for (int i = 0; i < parts.size(); i++) {
            String part = parts.get(i);
            Set<String> t = types.get(i);
            if (VERSION.matcher(part).matches()) {
                t.add("version");
            } else if (QUANT_TYPE.matcher(part).matches()) {
                t.add("type");
                parts.set(i, part.toUpperCase(Locale.ROOT));
            } else if (i > 0 && SIZE.matcher(part).matches()) {
                part = part.replace("_", ".");
                if (isDecimal(part.charAt(part.length() - 1))) {
                    part = part.substring(0, part.length() - 2) + "." + part.charAt(part.length() - 1)
                            + part.charAt(part.length() - 2);
                }
                if (part.length() > 1 && isDecimal(part.charAt(part.length() - 2))
                        && "kmbt".indexOf(part.charAt(part.length() - 1)) >= 0) {
                    part = part.substring(0, part.length() - 1) + Character.toUpperCase(part.charAt(part.length() - 1));
                }
                if (totalParams != 0) {
                    try {
                        double label = Double.parseDouble(part.substring(0, part.length() - 1))
                                * Math.pow(1000, " KMBT".indexOf(part.charAt(part.length() - 1)));
                        if ((totalParams < 0 && label < Math.floorDiv(Math.abs(totalParams), 8))
                                || (totalParams > 0 && Math.abs(label - totalParams) > Math.floorDiv(7 * totalParams, 8))) {
                            t.add("finetune");
                            part = part.substring(0, part.length() - 1)
                                    + Character.toLowerCase(part.charAt(part.length() - 1));
                        }
                    } catch (NumberFormatException ignored) {
                        // not a number: still a size label
                    }
                }
                if (t.isEmpty()) {
                    t.add("size_label");
                }
                parts.set(i, part);
            } else if (i > 0 && FINETUNE.matcher(part).matches()) {
                if (totalParams < 0 && part.equalsIgnoreCase("lora")) {
                    t.add("type");
                } else {
                    t.add("finetune");
                }
            }
        }
        boolean numericSize = false;
        for (int i = 0; i < parts.size(); i++) {
            if (types.get(i).contains("size_label") && parts.get(i).chars().anyMatch(c -> isDecimal((char) c))) {
                numericSize = true;
            }
        }
        if (numericSize) {
            for (int i = 0; i < parts.size(); i++) {
                if (types.get(i).contains("size_label") && parts.get(i).chars().allMatch(Character::isLetter)) {
                    types.get(i).remove("size_label");
                }
            }
        }
        boolean atStart = true;
        for (int i = 0; i < parts.size(); i++) {
            Set<String> t = types.get(i);
            String part = parts.get(i);
            if (atStart && ((t.isEmpty() && Character.isLetter(part.charAt(0))) || t.contains("version"))) {
                t.add("basename");
            } else {
                atStart = false;
                if (t.isEmpty()) {
                    t.add("finetune");
                }
            }
        }
        for (int i = parts.size() - 1; i >= 0; i--) {
            Set<String> t = types.get(i);
            if (t.contains("basename") && t.size() > 1) {
                t.remove("basename");
            } else {
                break;
            }
        }
        String basename = join(parts, types, "basename", null, false);
        String sizeLabel = join(parts, types, "size_label", null, true);
        String finetune = join(parts, types, "finetune", null, false);
        String version = join(parts, types, "version", "basename", false);
        if (sizeLabel == null && finetune == null && version == null) {
            basename = null;
        }
        return new String[] {full, org, basename, finetune, version, sizeLabel};
    }

    private static String join(List<String> parts, List<Set<String>> types, String with, String without, boolean dedupe) {
        Set<String> chosen = new LinkedHashSet<>();
        List<String> all = new ArrayList<>();
        for (int i = 0; i < parts.size(); i++) {
            if (types.get(i).contains(with) && (without == null || !types.get(i).contains(without))) {
                chosen.add(parts.get(i));
                all.add(parts.get(i));
            }
        }
        String s = String.join("-", dedupe ? new ArrayList<>(chosen) : all);
        return s.isEmpty() ? null : s;
    }

    private static boolean isDecimal(char c) {
        return Character.getType(c) == Character.DECIMAL_DIGIT_NUMBER;
    }

    /** gguf-py's id_to_title: title-case lowercase words except versions and numbers, '-' as spaces. */
    static String idToTitle(String s) {
        List<String> words = new ArrayList<>();
        for (String w : s.strip().replace('-', ' ').split("\\s+")) {
            if (w.isEmpty()) {
                continue;
            }
            words.add(isLower(w) && !TITLE_EXEMPT.matcher(w).matches() ? title(w) : w);
        }
        return String.join(" ", words);
    }

    /** Python's str.islower: some cased character, none of them upper or title case. */
    private static boolean isLower(String s) {
        boolean cased = false;
        for (int i = 0; i < s.length(); ) {
            int c = s.codePointAt(i);
            i += Character.charCount(c);
            if (Character.isUpperCase(c) || Character.isTitleCase(c)) {
                return false;
            }
            if (Character.isLowerCase(c)) {
                cased = true;
            }
        }
        return cased;
    }

    /** Python's str.title: a cased character after an uncased one is upper-cased, others lower-cased. */
    private static String title(String s) {
        StringBuilder b = new StringBuilder();
        boolean previousCased = false;
        for (int i = 0; i < s.length(); ) {
            int c = s.codePointAt(i);
            i += Character.charCount(c);
            boolean cased = Character.isUpperCase(c) || Character.isLowerCase(c) || Character.isTitleCase(c);
            b.appendCodePoint(cased ? (previousCased ? Character.toLowerCase(c) : Character.toTitleCase(c)) : c);
            previousCased = cased;
        }
        return b.toString();
    }

    /** gguf-py's size_label: "4x7.2B" for mixtures of experts, else the rounded total ("204K", "1.5B"). */
    static String sizeLabel(long total, long shared, long expert, long expertCount) {
        return expertCount > 0 ? expertCount + "x" + roundedCount(Math.abs(shared) + Math.abs(expert))
                : roundedCount(Math.abs(total));
    }

    /** gguf-py's model_weight_count_rounded_notation with two significant digits at least. */
    static String roundedCount(long n) {
        double scaled;
        String suffix;
        if (n > 1e12) {
            scaled = n * 1e-12;
            suffix = "T";
        } else if (n > 1e9) {
            scaled = n * 1e-9;
            suffix = "B";
        } else if (n > 1e6) {
            scaled = n * 1e-6;
            suffix = "M";
        } else {
            scaled = n * 1e-3;
            suffix = "K";
        }
        String integer = String.valueOf((long) Math.rint(scaled)).replaceFirst("^0+", "");
        int fix = Math.max(2 - integer.length(), 0);
        return new BigDecimal(scaled).setScale(fix, RoundingMode.HALF_EVEN).toPlainString() + suffix;
    }

    /** gguf-py's naming_convention: the converter's default file name, e.g. "Llama-3.2-1B-Instruct-Q4_K_M". */
    String fileName(String outputType) {
        String base = basename != null ? pythonStr(basename) : name;
        StringBuilder b = new StringBuilder(base == null ? "ggml-model" : base.strip().replace(' ', '-').replace('/', '-'));
        if (sizeLabel != null) {
            b.append('-').append(sizeLabel);
        }
        if (finetune != null) {
            b.append('-').append(pythonStr(finetune).strip().replace(' ', '-'));
        }
        if (version != null) {
            b.append('-').append(pythonStr(version).strip().replace(' ', '-'));
        }
        return b.append('-').append(outputType.strip().replace(' ', '-').toUpperCase(Locale.ROOT)).toString();
    }

    /** Writes the general.* keys in the order of gguf-py's set_gguf_meta_model. */
    void write(GgufMetadata kv) {
        putString(kv, "general.sampling.sequence", samplingSequence);
        putNumber(kv, "general.sampling.top_k", samplingTopK, true);
        putNumber(kv, "general.sampling.top_p", samplingTopP, false);
        putNumber(kv, "general.sampling.min_p", samplingMinP, false);
        putNumber(kv, "general.sampling.xtc_probability", samplingXtcProbability, false);
        putNumber(kv, "general.sampling.xtc_threshold", samplingXtcThreshold, false);
        putNumber(kv, "general.sampling.temp", samplingTemp, false);
        putNumber(kv, "general.sampling.penalty_last_n", samplingPenaltyLastN, true);
        putNumber(kv, "general.sampling.penalty_repeat", samplingPenaltyRepeat, false);
        putNumber(kv, "general.sampling.mirostat", samplingMirostat, true);
        putNumber(kv, "general.sampling.mirostat_tau", samplingMirostatTau, false);
        putNumber(kv, "general.sampling.mirostat_eta", samplingMirostatEta, false);
        putString(kv, "general.name", name);
        putString(kv, "general.author", author);
        putString(kv, "general.version", version);
        putString(kv, "general.organization", organization);
        putString(kv, "general.finetune", finetune);
        putString(kv, "general.basename", basename);
        putString(kv, "general.description", description);
        putString(kv, "general.quantized_by", quantizedBy);
        putString(kv, "general.size_label", sizeLabel);
        if (license instanceof List<?> l) {
            putString(kv, "general.license", String.join(",", l.stream().map(String::valueOf).toList()));
        } else {
            putString(kv, "general.license", license);
        }
        putString(kv, "general.license.name", licenseName);
        putString(kv, "general.license.link", licenseLink);
        putString(kv, "general.url", url);
        putString(kv, "general.doi", doi);
        putString(kv, "general.uuid", uuid);
        putString(kv, "general.repo_url", repoUrl);
        putString(kv, "general.source.url", sourceUrl);
        putString(kv, "general.source.doi", sourceDoi);
        putString(kv, "general.source.uuid", sourceUuid);
        putString(kv, "general.source.repo_url", sourceRepoUrl);
        writeReferences(kv, "general.base_model", baseModels);
        writeReferences(kv, "general.dataset", datasets);
        putStrings(kv, "general.tags", tags);
        putStrings(kv, "general.languages", languages);
    }

    private static void writeReferences(GgufMetadata kv, String prefix, List<Map<String, Object>> entries) {
        if (entries == null) {
            return;
        }
        kv.put(prefix + ".count", GgufValue.uint32(entries.size()));
        for (int i = 0; i < entries.size(); i++) {
            Map<String, Object> e = entries.get(i);
            for (String field : List.of("name", "author", "version", "organization", "description", "url", "doi",
                    "uuid", "repo_url")) {
                if (e.containsKey(field)) {
                    putString(kv, prefix + "." + i + "." + field, e.get(field));
                }
            }
        }
    }

    /** gguf-py's add_string: empty strings are skipped; other values are written as their str(). */
    private static void putString(GgufMetadata kv, String key, Object value) {
        if (value == null) {
            return;
        }
        String s = value instanceof String str ? str : pythonStr(value);
        if (!s.isEmpty()) {
            kv.put(key, GgufValue.string(s));
        }
    }

    private static void putNumber(GgufMetadata kv, String key, Object value, boolean integer) {
        if (value == null) {
            return;
        }
        if (!(value instanceof Number n)) {
            throw new CrucibleException("generation_config.json: '" + key.substring("general.sampling.".length())
                    + "' is not a number: " + value);
        }
        kv.put(key, integer ? GgufValue.int32(n.longValue()) : GgufValue.float32(n.floatValue()));
    }

    private static void putStrings(GgufMetadata kv, String key, List<Object> values) {
        if (values == null || values.isEmpty()) {
            return;
        }
        kv.put(key, GgufValue.strings(values.stream().map(v -> v instanceof String s ? s : pythonStr(v)).toList()));
    }

    private static String pythonStr(Object v) {
        if (v instanceof Boolean b) {
            return b ? "True" : "False";
        }
        return String.valueOf(v);
    }
}
