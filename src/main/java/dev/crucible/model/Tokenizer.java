package dev.crucible.model;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.CharSpan;
import dev.crucible.CrucibleException;
import dev.crucible.io.ModelDirectory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A model's tokenizer: its {@code tokenizer.json} run by the Hugging Face {@code tokenizers} library (through
 * DJL's JNI binding, whose native library ships inside the jar), configured as transformers 5 configures it
 * from {@code tokenizer_config.json} / {@code special_tokens_map.json}. Truncation and padding are always off:
 * a 10,000-token document comes back as 10,000 tokens.
 *
 * <p>Thread-safe: the native tokenizer is immutable after loading. Close it to free the native memory.
 */
public final class Tokenizer implements AutoCloseable {
    public static final String TOKENIZER_JSON = "tokenizer.json";

    private final Path dir;
    private final TokenizerJson vocab;
    private final SpecialTokens special;
    private final HuggingFaceTokenizer native_;
    private final boolean cleanUpOnDecode;

    private Tokenizer(Path dir, TokenizerJson vocab, SpecialTokens special, HuggingFaceTokenizer nativeTokenizer) {
        this.dir = dir;
        this.vocab = vocab;
        this.special = special;
        this.native_ = nativeTokenizer;
        this.cleanUpOnDecode = special.cleanUpTokenizationSpaces()
                && (!"BPE".equals(vocab.modelType()) || special.cleanUpEvenForBpe());
    }

    /** Loads the tokenizer of a model directory (it needs {@code tokenizer.json}; the configs are optional). */
    public static Tokenizer load(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new CrucibleException(dir + ": model directory not found");
        }
        Path file = dir.resolve(TOKENIZER_JSON);
        if (!Files.isRegularFile(file)) {
            throw new CrucibleException(missingTokenizerJsonMessage(dir));
        }
        return load(dir, SpecialTokens.read(dir));
    }

    /**
     * Loads the tokenizer of a model directory with the special tokens its {@link ModelDirectory#tokenizerConfig} and
     * {@link ModelDirectory#specialTokensMap} give (so {@link ModelDirectory#withSpecialTokens} overrides apply).
     */
    public static Tokenizer load(ModelDirectory model) {
        Path dir = model.path();
        if (!Files.isRegularFile(dir.resolve(TOKENIZER_JSON))) {
            throw new CrucibleException(missingTokenizerJsonMessage(dir));
        }
        return load(dir, SpecialTokens.fromJson(model.tokenizerConfig(), model.specialTokensMap(),
                dir.resolve(ModelDirectory.TOKENIZER_CONFIG).toString()));
    }

    private static Tokenizer load(Path dir, SpecialTokens special) {
        Path file = dir.resolve(TOKENIZER_JSON);
        TokenizerJson json = TokenizerJson.read(file);
        // transformers 5 makes every named special token a special added token (TokenizersBackend.__init__). It
        // drops add_bos_token/add_eos_token from the config whenever tokenizer.json exists
        // (PreTrainedTokenizerBase._from_pretrained), so tokenizer.json's post-processor alone decides what
        // encode(text) adds: Llama 3's adds <|begin_of_text|>, Qwen's adds nothing.
        for (String t : new String[] {special.bos(), special.eos(), special.unk(), special.pad()}) {
            json.addSpecialTokenIfMissing(t);
        }
        special.additional().forEach(json::addSpecialTokenIfMissing);
        return new Tokenizer(dir, json, special, NativeTokenizers.create(json.json(), file));
    }

    static String missingTokenizerJsonMessage(Path dir) {
        if (Files.isRegularFile(dir.resolve("tokenizer.model"))) {
            return dir + ": has only a SentencePiece tokenizer.model and no tokenizer.json; Crucible reads"
                    + " tokenizer.json. Convert it once with transformers: python -c \"from transformers import"
                    + " AutoTokenizer; AutoTokenizer.from_pretrained('" + dir + "').save_pretrained('" + dir
                    + "')\" (this writes tokenizer.json next to it)";
        }
        if (Files.isRegularFile(dir.resolve("vocab.json")) && Files.isRegularFile(dir.resolve("merges.txt"))) {
            return dir + ": has vocab.json/merges.txt but no tokenizer.json; Crucible reads tokenizer.json."
                    + " Convert it once with transformers: python -c \"from transformers import AutoTokenizer;"
                    + " AutoTokenizer.from_pretrained('" + dir + "').save_pretrained('" + dir + "')\"";
        }
        return dir + ": no tokenizer.json (expected the Hugging Face tokenizer file next to config.json)";
    }

    public Path directory() {
        return dir;
    }

    public SpecialTokens specialTokens() {
        return special;
    }

    /** Encodes with the tokenizer's special tokens (the BOS of Llama, nothing for Qwen), as {@code encode(text)}. */
    public int[] encode(String text) {
        return encode(text, true);
    }

    public int[] encode(String text, boolean addSpecialTokens) {
        if (text == null) {
            throw new CrucibleException("text to encode is null");
        }
        return NativeTokenizers.encodeIds(native_, text, addSpecialTokens);
    }

    /** Ids, token strings and each token's character span in {@code text} (Java string indices). */
    public Encoded encodeWithOffsets(String text, boolean addSpecialTokens) {
        return toEncoded(text, encodeNative(text, addSpecialTokens));
    }

    /** Encodes many texts at once (the native library spreads them over its threads). */
    public List<int[]> encodeBatch(List<String> texts, boolean addSpecialTokens) {
        for (int i = 0; i < texts.size(); i++) {
            if (texts.get(i) == null) {
                throw new CrucibleException("text " + i + " of the batch is null");
            }
        }
        return NativeTokenizers.batchEncodeIds(native_, texts.toArray(String[]::new), addSpecialTokens);
    }

    /** The token strings of {@code text} ({@code Ġworld} for byte-level BPE, {@code ▁world} for SentencePiece). */
    public List<String> tokenize(String text, boolean addSpecialTokens) {
        return List.of(encodeNative(text, addSpecialTokens).getTokens());
    }

    public String decode(int[] ids) {
        return decode(ids, false);
    }

    /**
     * Decodes ids to text; with {@code skipSpecialTokens} the special tokens are left out. Applies
     * {@code clean_up_tokenization_spaces} as transformers 5 does: when the config asks for it and the model is not
     * BPE (where it would delete real spaces) unless the config insists.
     */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        long[] longs = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            if (vocab.token(ids[i]) == null) {
                throw new CrucibleException("token id " + ids[i] + " at position " + i + " is not in the vocabulary of "
                        + dir.resolve(TOKENIZER_JSON) + " (" + size() + " tokens)");
            }
            longs[i] = ids[i];
        }
        String text = native_.decode(longs, skipSpecialTokens);
        return cleanUpOnDecode ? cleanUpTokenizationSpaces(text) : text;
    }

    /** transformers' {@code clean_up_tokenization}: removes the space before punctuation and English contractions. */
    static String cleanUpTokenizationSpaces(String text) {
        return text.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")
                .replace(" ' ", "'").replace(" n't", "n't").replace(" 'm", "'m").replace(" 's", "'s")
                .replace(" 've", "'ve").replace(" 're", "'re");
    }

    /** The id of a token string (vocabulary or added token), or null. */
    public Integer tokenToId(String token) {
        return vocab.id(token);
    }

    /** The token string of an id, or null when no token has it. */
    public String idToToken(int id) {
        return vocab.token(id);
    }

    /** Number of tokens including added tokens ({@code len(tokenizer)} in transformers). */
    public int size() {
        return vocab.size();
    }

    /** Size of the base vocabulary without added tokens ({@code tokenizer.vocab_size} in transformers). */
    public int baseVocabSize() {
        return vocab.modelVocabSize();
    }

    /** Rows an embedding needs for every id of this tokenizer: the highest id plus one. */
    public int requiredEmbeddingRows() {
        return vocab.maxId() + 1;
    }

    /** Added tokens (content → id) in tokenizer.json order, including the special tokens the config added. */
    public Map<String, Integer> addedTokens() {
        return Map.copyOf(vocab.addedTokens());
    }

    /** Ids of the tokens marked special (skipped by {@code decode(ids, true)}). */
    public List<Integer> specialTokenIds() {
        return List.copyOf(vocab.specialIds());
    }

    public Integer bosTokenId() {
        return vocab.id(special.bos());
    }

    public Integer eosTokenId() {
        return vocab.id(special.eos());
    }

    public Integer padTokenId() {
        return vocab.id(special.pad());
    }

    public Integer unkTokenId() {
        return vocab.id(special.unk());
    }

    /**
     * Checks that every id this tokenizer produces has a row in a model whose embedding has
     * {@code modelVocabSize} rows ({@code vocab_size} of config.json). A larger model vocabulary is fine (padded
     * embeddings, as in Qwen); a smaller one would index out of bounds.
     */
    public void checkFitsModel(int modelVocabSize) {
        if (requiredEmbeddingRows() > modelVocabSize) {
            throw new CrucibleException(dir.resolve(TOKENIZER_JSON) + ": the tokenizer has " + size()
                    + " tokens (highest id " + vocab.maxId() + ", needs " + requiredEmbeddingRows()
                    + " embedding rows) but the model's vocab_size in config.json is " + modelVocabSize
                    + "; resize the model's embeddings or use the model's own tokenizer");
        }
    }

    private Encoding encodeNative(String text, boolean addSpecialTokens) {
        if (text == null) {
            throw new CrucibleException("text to encode is null");
        }
        return native_.encode(text, addSpecialTokens, false);
    }

    private static Encoded toEncoded(String text, Encoding e) {
        CharSpan[] spans = e.getCharTokenSpans();
        int[] starts = new int[spans.length];
        int[] ends = new int[spans.length];
        CodePointIndex index = new CodePointIndex(text);
        int previousEnd = 0;
        for (int i = 0; i < spans.length; i++) {
            if (spans[i] == null) { // a token the post-processor added: empty span where it was inserted
                starts[i] = previousEnd;
                ends[i] = previousEnd;
            } else {
                starts[i] = index.charIndex(spans[i].getStart());
                ends[i] = index.charIndex(spans[i].getEnd());
                previousEnd = ends[i];
            }
        }
        return new Encoded(toInts(e.getIds()), List.of(e.getTokens()), starts, ends,
                toBooleans(e.getSpecialTokenMask()));
    }

    static int[] toInts(long[] ids) {
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    private static boolean[] toBooleans(long[] mask) {
        boolean[] out = new boolean[mask.length];
        for (int i = 0; i < mask.length; i++) {
            out[i] = mask[i] != 0;
        }
        return out;
    }

    @Override
    public void close() {
        native_.close();
    }

    /** Maps the library's code-point offsets to Java (UTF-16) string indices. */
    private static final class CodePointIndex {
        private final String text;
        private final int[] charOfCodePoint;

        CodePointIndex(String text) {
            this.text = text;
            int n = text.codePointCount(0, text.length());
            if (n == text.length()) {
                charOfCodePoint = null; // no surrogate pairs: indices agree
            } else {
                charOfCodePoint = new int[n + 1];
                int c = 0;
                for (int cp = 0; cp < n; cp++) {
                    charOfCodePoint[cp] = c;
                    c += Character.charCount(text.codePointAt(c));
                }
                charOfCodePoint[n] = text.length();
            }
        }

        int charIndex(int codePoint) {
            if (codePoint < 0) {
                return codePoint;
            }
            return charOfCodePoint == null ? Math.min(codePoint, text.length()) : charOfCodePoint[codePoint];
        }
    }

    /**
     * One encoded text: ids, token strings, each token's span {@code [start, end)} in the text (Java string
     * indices; special tokens added by the post-processor have an empty span) and which tokens are special
     * tokens added by the post-processor.
     */
    public record Encoded(int[] ids, List<String> tokens, int[] starts, int[] ends, boolean[] addedSpecial) {
        public int length() {
            return ids.length;
        }
    }
}
