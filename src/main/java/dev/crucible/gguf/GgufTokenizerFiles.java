package dev.crucible.gguf;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.CrucibleException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The Hugging Face side of a GGUF file's vocabulary, so that the runtime's tokenizer, chat template and
 * generation settings work on it: tokenizer.json (a SentencePiece vocabulary becomes a byte-fallback BPE with
 * merges ordered by piece score, as transformers converts tokenizer.model; a byte-level BPE gets the
 * pre-tokenizer regex llama.cpp names), tokenizer_config.json (special tokens, chat template), config.json and
 * generation_config.json.
 */
public final class GgufTokenizerFiles {
    private static final JsonNodeFactory J = JsonNodeFactory.instance;
    private static final String SPIECE = "\u2581";
    /** llama.cpp's pre-tokenizer regexes (llama-vocab.cpp) for the names Crucible can run. */
    private static final Map<String, String> PRE_REGEX = Map.of(
            "llama-bpe", "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
            "qwen2", "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+");

    private GgufTokenizerFiles() {
    }

    /**
     * A temporary directory (deleted when the JVM exits) holding the Hugging Face files of a GGUF file, for the
     * commands that need a tokenizer or chat template.
     */
    public static Path temporaryDirectory(Path gguf) {
        try (GgufModel model = GgufModel.open(gguf)) {
            Path dir = Files.createTempDirectory("crucible-gguf-");
            dir.toFile().deleteOnExit();
            write(model, dir);
            try (var files = Files.list(dir)) {
                files.forEach(f -> f.toFile().deleteOnExit());
            }
            return dir;
        } catch (IOException e) {
            throw new CrucibleException("cannot create a temporary directory for " + gguf + ": " + e.getMessage(), e);
        }
    }

    /** Writes the four files into {@code dir}. */
    public static void write(GgufModel model, Path dir) {
        GgufMetadata kv = model.file().metadata();
        GgufValue tokensValue = kv.get("tokenizer.ggml.tokens");
        String type = kv.string("tokenizer.ggml.model");
        if (tokensValue == null || type == null) {
            throw new CrucibleException(model.file().path() + ": no tokenizer in the GGUF metadata");
        }
        String[] tokens = tokensValue.asStrings();
        long[] types = kv.get("tokenizer.ggml.token_type") == null ? new long[tokens.length]
                : kv.get("tokenizer.ggml.token_type").asLongs();
        ObjectNode tok = J.objectNode();
        tok.put("version", "1.0");
        tok.putNull("truncation");
        tok.putNull("padding");
        ArrayNode added = tok.putArray("added_tokens");
        for (int i = 0; i < tokens.length; i++) {
            if (types[i] == ConverterVocab.CONTROL || types[i] == ConverterVocab.USER_DEFINED
                    || types[i] == ConverterVocab.UNKNOWN) {
                added.addObject().put("id", i).put("content", tokens[i]).put("single_word", false).put("lstrip", false)
                        .put("rstrip", false).put("normalized", false).put("special", types[i] != ConverterVocab.USER_DEFINED);
            }
        }
        Long bos = id(kv, "tokenizer.ggml.bos_token_id");
        Long eos = id(kv, "tokenizer.ggml.eos_token_id");
        boolean addBos = flag(kv, "tokenizer.ggml.add_bos_token", type.equals("llama"));
        boolean addEos = flag(kv, "tokenizer.ggml.add_eos_token", false);
        switch (type) {
            case "llama" -> sentencePiece(tok, tokens, kv, flag(kv, "tokenizer.ggml.add_space_prefix", true));
            case "gpt2" -> byteLevel(tok, tokens, kv, model.file().path());
            default -> throw new CrucibleException(model.file().path() + ": tokenizer type '" + type + "' is not supported "
                    + "(supported: llama, gpt2)");
        }
        tok.set("post_processor", template(tokens, addBos ? bos : null, addEos ? eos : null));
        ObjectNode config = J.objectNode();
        config.put("tokenizer_class", "PreTrainedTokenizerFast");
        config.put("add_bos_token", addBos);
        config.put("add_eos_token", addEos);
        putToken(config, "bos_token", tokens, bos);
        putToken(config, "eos_token", tokens, eos);
        putToken(config, "unk_token", tokens, id(kv, "tokenizer.ggml.unknown_token_id"));
        putToken(config, "pad_token", tokens, id(kv, "tokenizer.ggml.padding_token_id"));
        String chat = kv.string("tokenizer.chat_template");
        if (chat != null) {
            config.put("chat_template", chat);
        }
        ObjectNode generation = J.objectNode();
        if (bos != null) {
            generation.put("bos_token_id", bos);
        }
        if (eos != null) {
            generation.put("eos_token_id", eos);
        }
        ObjectMapper m = new ObjectMapper();
        try {
            Files.writeString(dir.resolve("tokenizer.json"), m.writeValueAsString(tok));
            Files.writeString(dir.resolve("tokenizer_config.json"), m.writerWithDefaultPrettyPrinter().writeValueAsString(config));
            Files.writeString(dir.resolve("config.json"), m.writerWithDefaultPrettyPrinter().writeValueAsString(model.config()));
            Files.writeString(dir.resolve("generation_config.json"), m.writerWithDefaultPrettyPrinter().writeValueAsString(generation));
        } catch (IOException e) {
            throw new CrucibleException(dir + ": cannot write tokenizer files: " + e.getMessage(), e);
        }
    }

    private static Long id(GgufMetadata kv, String key) {
        GgufValue v = kv.get(key);
        return v == null ? null : v.asLong();
    }

    private static boolean flag(GgufMetadata kv, String key, boolean fallback) {
        GgufValue v = kv.get(key);
        return v == null ? fallback : v.asBoolean();
    }

    private static void putToken(ObjectNode config, String key, String[] tokens, Long id) {
        if (id != null && id >= 0 && id < tokens.length) {
            config.put(key, tokens[(int) (long) id]);
        }
    }

    /** A byte-fallback BPE as transformers converts a SentencePiece model: merges by piece score. */
    private static void sentencePiece(ObjectNode tok, String[] tokens, GgufMetadata kv, boolean spacePrefix) {
        float[] scores = kv.get("tokenizer.ggml.scores") == null ? new float[tokens.length]
                : kv.get("tokenizer.ggml.scores").asFloats();
        long[] types = kv.get("tokenizer.ggml.token_type").asLongs();
        if (spacePrefix) {
            tok.putNull("normalizer");
            tok.putObject("pre_tokenizer").put("type", "Metaspace").put("replacement", SPIECE)
                    .put("prepend_scheme", "first").put("split", false);
        } else {
            ObjectNode n = tok.putObject("normalizer").put("type", "Replace").put("content", SPIECE);
            n.putObject("pattern").put("String", " ");
            tok.putNull("pre_tokenizer");
        }
        ObjectNode decoder = tok.putObject("decoder").put("type", "Sequence");
        ArrayNode ds = decoder.putArray("decoders");
        ObjectNode replace = ds.addObject().put("type", "Replace").put("content", " ");
        replace.putObject("pattern").put("String", SPIECE);
        ds.addObject().put("type", "ByteFallback");
        ds.addObject().put("type", "Fuse");
        if (spacePrefix) {
            ds.addObject().put("type", "Strip").put("content", " ").put("start", 1).put("stop", 0);
        }
        Map<String, Integer> vocab = new HashMap<>();
        for (int i = 0; i < tokens.length; i++) {
            vocab.putIfAbsent(tokens[i], i);
        }
        List<Integer> byScore = new ArrayList<>();
        for (int i = 0; i < tokens.length; i++) {
            if (types[i] == ConverterVocab.NORMAL) {
                byScore.add(i);
            }
        }
        byScore.sort(Comparator.comparingDouble((Integer i) -> -scores[i]).thenComparingInt(i -> i));
        ArrayNode merges = J.arrayNode();
        for (int id : byScore) {
            String piece = tokens[id];
            List<int[]> local = new ArrayList<>();
            for (int k = 1; k < piece.length(); k++) {
                if (Character.isLowSurrogate(piece.charAt(k))) {
                    continue;
                }
                Integer l = vocab.get(piece.substring(0, k));
                Integer r = vocab.get(piece.substring(k));
                if (l != null && r != null) {
                    local.add(new int[] {l, r});
                }
            }
            local.sort(Comparator.<int[]>comparingInt(p -> p[0]).thenComparingInt(p -> p[1]));
            for (int[] p : local) {
                merges.add(J.arrayNode().add(tokens[p[0]]).add(tokens[p[1]]));
            }
        }
        ObjectNode model = tok.putObject("model").put("type", "BPE").putNull("dropout");
        Long unk = id(kv, "tokenizer.ggml.unknown_token_id");
        if (unk != null) {
            model.put("unk_token", tokens[(int) (long) unk]);
        } else {
            model.putNull("unk_token");
        }
        model.putNull("continuing_subword_prefix").putNull("end_of_word_suffix").put("fuse_unk", true)
                .put("byte_fallback", true).put("ignore_merges", false);
        model.set("vocab", vocabNode(tokens));
        model.set("merges", merges);
    }

    private static void byteLevel(ObjectNode tok, String[] tokens, GgufMetadata kv, Path file) {
        String pre = kv.string("tokenizer.ggml.pre");
        tok.putNull("normalizer");
        String regex = PRE_REGEX.get(pre);
        if (regex != null) {
            ObjectNode seq = tok.putObject("pre_tokenizer").put("type", "Sequence");
            ArrayNode list = seq.putArray("pretokenizers");
            ObjectNode split = list.addObject().put("type", "Split").put("behavior", "Isolated").put("invert", false);
            split.putObject("pattern").put("Regex", regex);
            list.addObject().put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", true)
                    .put("use_regex", false);
        } else if (pre == null || pre.equals("default") || pre.equals("gpt-2")) {
            tok.putObject("pre_tokenizer").put("type", "ByteLevel").put("add_prefix_space", false)
                    .put("trim_offsets", true).put("use_regex", true);
        } else {
            throw new CrucibleException(file + ": pre-tokenizer '" + pre + "' is not supported by Crucible's runtime yet "
                    + "(supported: llama-bpe, qwen2, gpt-2)");
        }
        tok.putObject("decoder").put("type", "ByteLevel").put("add_prefix_space", true).put("trim_offsets", true)
                .put("use_regex", true);
        ObjectNode model = tok.putObject("model").put("type", "BPE").putNull("dropout").putNull("unk_token")
                .putNull("continuing_subword_prefix").putNull("end_of_word_suffix").put("fuse_unk", false)
                .put("byte_fallback", false).put("ignore_merges", "llama-bpe".equals(pre));
        model.set("vocab", vocabNode(tokens));
        ArrayNode merges = model.putArray("merges");
        GgufValue m = kv.get("tokenizer.ggml.merges");
        if (m != null) {
            for (String s : m.asStrings()) {
                int space = s.indexOf(' ');
                merges.add(J.arrayNode().add(s.substring(0, space)).add(s.substring(space + 1)));
            }
        }
    }

    private static ObjectNode vocabNode(String[] tokens) {
        ObjectNode v = J.objectNode();
        for (int i = 0; i < tokens.length; i++) {
            if (!v.has(tokens[i])) {
                v.put(tokens[i], i);
            }
        }
        return v;
    }

    private static ObjectNode template(String[] tokens, Long bos, Long eos) {
        ObjectNode p = J.objectNode().put("type", "TemplateProcessing");
        ArrayNode single = p.putArray("single");
        ArrayNode pair = p.putArray("pair");
        ObjectNode specials = p.putObject("special_tokens");
        if (bos != null) {
            special(single, specials, tokens, bos, 0);
        }
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        if (eos != null) {
            special(single, specials, tokens, eos, 0);
        }
        if (bos != null) {
            special(pair, specials, tokens, bos, 0);
        }
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        if (eos != null) {
            special(pair, specials, tokens, eos, 0);
        }
        if (bos != null) {
            special(pair, specials, tokens, bos, 1);
        }
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        if (eos != null) {
            special(pair, specials, tokens, eos, 1);
        }
        return p;
    }

    private static void special(ArrayNode seq, ObjectNode specials, String[] tokens, long id, int typeId) {
        String t = tokens[(int) id];
        seq.addObject().putObject("SpecialToken").put("id", t).put("type_id", typeId);
        ObjectNode s = specials.putObject(t).put("id", t);
        s.putArray("ids").add(id);
        s.putArray("tokens").add(t);
    }
}
