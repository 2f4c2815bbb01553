package dev.crucible.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crucible.CrucibleException;
import dev.crucible.io.ModelDirectory;
import dev.crucible.model.Tokenizer;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The tokenizer half of llama.cpp's converter: the token list, scores and types of a SentencePiece
 * {@code tokenizer.model} (llama's vocabulary type "llama") or of a byte-level BPE {@code tokenizer.json}
 * ("gpt2", with merges and a pre-tokenizer named by hashing the ids of a check text), then {@link SpecialVocab}.
 */
final class ConverterVocab {
    static final int NORMAL = 1;
    static final int UNKNOWN = 2;
    static final int CONTROL = 3;
    static final int USER_DEFINED = 4;
    static final int UNUSED = 5;
    static final int BYTE = 6;
    private static final String SPIECE_UNDERLINE = "\u2581";

    private ConverterVocab() {
    }

    /** Token texts, scores and types of a SentencePiece vocabulary padded to the model's vocabulary size. */
    private record Pieces(String[] tokens, float[] scores, long[] types) {
        /** The converter's initial arrays: "[PADi]", score -10000, unused; then the model's pieces. */
        static Pieces of(SentencePieceModel sp, int vocabSize, Path dir) {
            Pieces p = new Pieces(new String[vocabSize], new float[vocabSize], new long[vocabSize]);
            for (int i = 0; i < vocabSize; i++) {
                p.tokens[i] = "[PAD" + i + "]";
                p.scores[i] = -10000.0f;
                p.types[i] = UNUSED;
            }
            for (int id = 0; id < sp.size(); id++) {
                if (id >= vocabSize) {
                    if (dir != null) {
                        throw new CrucibleException(dir.resolve("tokenizer.model") + ": has " + sp.size()
                                + " pieces, more than vocab_size " + vocabSize + " in config.json");
                    }
                    break; // the converter warns and ignores pieces past the vocabulary
                }
                SentencePieceModel.Piece piece = sp.pieces().get(id);
                p.tokens[id] = piece.piece();
                p.scores[id] = piece.score();
                p.types[id] = pieceType(piece.type());
            }
            return p;
        }

        void write(Path dir, GgufMetadata kv) {
            kv.put("tokenizer.ggml.model", GgufValue.string("llama"));
            kv.put("tokenizer.ggml.pre", GgufValue.string("default"));
            kv.put("tokenizer.ggml.tokens", GgufValue.strings(Arrays.asList(tokens)));
            kv.put("tokenizer.ggml.scores", GgufValue.floats(scores));
            kv.put("tokenizer.ggml.token_type", GgufValue.integers(GgufValueType.INT32, types));
            new SpecialVocab(dir, false, null, tokens.length).write(kv);
        }
    }

    /** _set_vocab_sentencepiece. */
    static void sentencePiece(Path dir, HfHparams hp, GgufMetadata kv) {
        SentencePieceModel sp = readSentencePiece(dir);
        JsonNode vs = hp.find(List.of("vocab_size_per_layer_input", "vocab_size"));
        int vocabSize = vs != null && vs.asInt() != 0 ? vs.asInt() : sp.size();
        Pieces p = Pieces.of(sp, vocabSize, null);
        addedTokensJson(dir, p);
        JsonNode config = ModelDirectory.tokenizerConfig(dir);
        if (config != null && config.get("added_tokens_decoder") instanceof JsonNode decoder && decoder.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = decoder.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                int id = Integer.parseInt(e.getKey());
                String token = e.getValue().path("content").asText();
                if (id >= vocabSize) {
                    continue;
                }
                if (e.getValue().path("special").asBoolean(false) || looksSpecial(token)) {
                    p.types[id] = CONTROL;
                } else {
                    token = token.replace(SPIECE_UNDERLINE, " ");
                    p.types[id] = USER_DEFINED;
                }
                p.scores[id] = -1000.0f;
                p.tokens[id] = token;
            }
        }
        p.write(dir, kv);
    }

    /** Phi3MiniModel.set_vocab: SentencePiece, with added tokens from tokenizer_config.json and tokenizer.json. */
    static void phi3(Path dir, HfHparams hp, GgufMetadata kv) {
        SentencePieceModel sp = readSentencePiece(dir);
        JsonNode vs = hp.get("vocab_size");
        Pieces p = Pieces.of(sp, vs != null ? vs.asInt() : sp.size(), dir);
        addedTokensJson(dir, p);
        JsonNode config = ModelDirectory.tokenizerConfig(dir);
        if (config != null && config.get("added_tokens_decoder") instanceof JsonNode decoder && decoder.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = decoder.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                setAdded(dir, Integer.parseInt(e.getKey()), e.getValue(), p);
            }
        }
        JsonNode tokenizer = GeneralMetadata.readJson(dir.resolve("tokenizer.json"));
        if (tokenizer != null) {
            for (JsonNode t : tokenizer.path("added_tokens")) {
                setAdded(dir, t.path("id").asInt(), t, p);
            }
        }
        p.write(dir, kv);
    }

    private static void setAdded(Path dir, int id, JsonNode data, Pieces p) {
        if (id < 0 || id >= p.tokens.length) {
            throw new CrucibleException(dir + ": added token id " + id + " is outside the vocabulary of "
                    + p.tokens.length);
        }
        p.tokens[id] = data.path("content").asText();
        p.scores[id] = -1000.0f;
        p.types[id] = data.path("special").asBoolean(false) ? CONTROL : USER_DEFINED;
    }

    private static void addedTokensJson(Path dir, Pieces p) {
        JsonNode added = GeneralMetadata.readJson(dir.resolve("added_tokens.json"));
        if (added == null) {
            return;
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = added.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            int id = e.getValue().asInt();
            if (id >= p.tokens.length) {
                continue;
            }
            p.tokens[id] = e.getKey();
            p.scores[id] = -1000.0f;
            p.types[id] = USER_DEFINED;
        }
    }

    private static SentencePieceModel readSentencePiece(Path dir) {
        Path file = dir.resolve("tokenizer.model");
        if (!Files.isRegularFile(file)) {
            throw new CrucibleException(dir + ": no tokenizer.model (this family's GGUF vocabulary is SentencePiece's)");
        }
        return SentencePieceModel.read(file);
    }

    private static int pieceType(SentencePieceModel.Type t) {
        return t == SentencePieceModel.Type.USER_DEFINED ? NORMAL : t.id; // the converter keeps user-defined as normal
    }

    /** does_token_look_special: tokens some models mark as not special though they are control tokens. */
    static boolean looksSpecial(String t) {
        return t.equals("<pad>") || t.equals("<mask>") || t.equals("<2mass>") || t.equals("[@BOS@]")
                || (t.startsWith("<|") && t.endsWith("|>")) || (t.startsWith("<\uff5c") && t.endsWith("\uff5c>"))
                || (t.startsWith("<unused") && t.endsWith(">"));
    }

    // -------------------------------------------------------------------------------------------- BPE

    /** _set_vocab_gpt2: tokens from tokenizer.json, the pre-tokenizer by hash (or {@code pre}), merges. */
    static void gpt2(Path dir, HfHparams hp, GgufMetadata kv, String pre) {
        JsonNode tokenizer = GeneralMetadata.readJson(dir.resolve("tokenizer.json"));
        if (tokenizer == null) {
            throw new CrucibleException(dir + ": no tokenizer (tokenizer.model or tokenizer.json): a GGUF file carries "
                    + "the model's vocabulary, so the export needs it");
        }
        Map<Integer, String> byId = new HashMap<>();
        JsonNode vocab = tokenizer.path("model").path("vocab");
        for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            byId.put(e.getValue().asInt(), e.getKey());
        }
        Map<String, JsonNode> added = new LinkedHashMap<>();
        for (JsonNode t : tokenizer.path("added_tokens")) {
            byId.put(t.path("id").asInt(), t.path("content").asText());
            added.put(t.path("content").asText(), t);
        }
        int maxId = byId.keySet().stream().mapToInt(Integer::intValue).max().orElse(-1);
        JsonNode vs = hp.get("vocab_size");
        int vocabSize = vs != null ? vs.asInt() : byId.size();
        if (maxId >= vocabSize) {
            throw new CrucibleException(dir + ": the tokenizer has token id " + maxId + " but config.json's vocab_size is "
                    + vocabSize);
        }
        String preName = preTokenizer(dir, pre);
        String[] tokens = new String[vocabSize];
        long[] types = new long[vocabSize];
        for (int i = 0; i < vocabSize; i++) {
            String token = byId.get(i);
            if (token == null) {
                tokens[i] = "[PAD" + i + "]";
                types[i] = UNUSED;
                continue;
            }
            JsonNode a = added.get(token);
            if (a != null) {
                if (a.path("special").asBoolean(false) || looksSpecial(token)) {
                    types[i] = CONTROL;
                } else {
                    token = token.replace(SPIECE_UNDERLINE, " ");
                    types[i] = USER_DEFINED;
                }
            } else {
                types[i] = NORMAL;
            }
            tokens[i] = token;
        }
        kv.put("tokenizer.ggml.model", GgufValue.string("gpt2"));
        kv.put("tokenizer.ggml.pre", GgufValue.string(preName));
        kv.put("tokenizer.ggml.tokens", GgufValue.strings(Arrays.asList(tokens)));
        kv.put("tokenizer.ggml.token_type", GgufValue.integers(GgufValueType.INT32, types));
        new SpecialVocab(dir, true, null, null).write(kv);
    }

    /**
     * The converter's get_vocab_base_pre: sha256 of the ids (as Python prints the list) of its check text,
     * looked up in its table; an unknown hash is refused unless {@code override} names the pre-tokenizer.
     */
    static String preTokenizer(Path dir, String override) {
        PreTokenizerTable table = PreTokenizerTable.load();
        String hash;
        try (Tokenizer t = Tokenizer.load(dir)) {
            hash = PreTokenizerTable.hash(t.encode(table.checkText(), true));
        }
        String name = table.names().get(hash);
        if (name != null) {
            return name;
        }
        if (override != null) {
            return override;
        }
        throw new CrucibleException(dir + ": the BPE pre-tokenizer was not recognized (chkhsh " + hash + "). "
                + "llama.cpp's converter refuses it too: the model is not in its table, or its pre-tokenization "
                + "config changed. If you know which pre-tokenizer the model uses, name it with --pre (e.g. "
                + "--pre llama-bpe, --pre qwen2; see the names in llama.cpp's llama-vocab.cpp)");
    }

    /** The converter's hash table, loaded from the resource extracted from convert_hf_to_gguf.py. */
    record PreTokenizerTable(String checkText, Map<String, String> names) {
        private static PreTokenizerTable cached;

        static synchronized PreTokenizerTable load() {
            if (cached != null) {
                return cached;
            }
            String check = null;
            Map<String, String> names = new HashMap<>();
            try (InputStream in = ConverterVocab.class.getResourceAsStream("bpe-pre-tokenizers.txt");
                 BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    if (line.startsWith("#") || line.isBlank()) {
                        continue;
                    }
                    if (line.startsWith("CHECK_TEXT ")) {
                        check = new com.fasterxml.jackson.databind.ObjectMapper()
                                .readValue(line.substring("CHECK_TEXT ".length()), String.class);
                        continue;
                    }
                    String[] f = line.split(" ");
                    names.put(f[0], f[1]); // a later entry for the same hash wins, as the converter's ifs do
                }
            } catch (IOException | NullPointerException e) {
                throw new IllegalStateException("bpe-pre-tokenizers.txt resource unreadable", e);
            }
            cached = new PreTokenizerTable(check, Map.copyOf(names));
            return cached;
        }

        /** sha256 of Python's str(list_of_ids): "[1, 2, 3]". */
        static String hash(int[] ids) {
            StringBuilder b = new StringBuilder("[");
            for (int i = 0; i < ids.length; i++) {
                b.append(i == 0 ? "" : ", ").append(ids[i]);
            }
            b.append(']');
            try {
                byte[] d = MessageDigest.getInstance("SHA-256").digest(b.toString().getBytes(StandardCharsets.UTF_8));
                return HexFormat.of().formatHex(d);
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
