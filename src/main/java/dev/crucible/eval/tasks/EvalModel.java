package dev.crucible.eval.tasks;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crucible.CrucibleException;
import dev.crucible.io.ModelConfig;
import dev.crucible.io.ModelDirectory;
import dev.crucible.model.GenerationTokenIds;
import dev.crucible.model.Tokenizer;
import dev.crucible.model.Transformer;
import dev.crucible.model.TransformerWeights;
import dev.crucible.template.ChatRequest;
import dev.crucible.template.ChatTemplate;
import dev.crucible.nn.KVCache;

import java.math.BigDecimal;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * A model as lm-eval's Hugging Face backend ({@code HFLM}) presents it to the tasks: its tokenization rules (BOS
 * added as the tokenizer adds it, except when the text already starts with it; trailing context spaces moved to
 * the continuation; the continuation taken from the encoding of the whole text), its maximum length, the prefix
 * token for empty contexts and rolling windows, and greedy generation with lm-eval's stop sequences. Scoring runs
 * on Crucible's runtime through {@link ContinuationScorer}.
 */
public final class EvalModel implements AutoCloseable {
    private static final BigDecimal TOKENIZER_INFINITY = new BigDecimal("1000000000000000019884624838656");
    static final int DEFAULT_MAX_GEN_TOKS = 256;

    private final Path dir;
    private final Transformer transformer;
    private final Tokenizer tokenizer;
    private final ModelDirectory modelDir;
    private final int maxLength;
    private final List<Integer> eosIds;

    /** @param maxLength lm-eval's {@code max_length} model argument, or null for the model's own */
    public EvalModel(Path dir, Integer maxLength) {
        this.dir = dir;
        this.modelDir = ModelDirectory.open(dir);
        Transformer t = Transformer.load(modelDir, TransformerWeights.Override.NONE);
        try {
            this.tokenizer = Tokenizer.load(modelDir);
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
        this.transformer = t;
        tokenizer.checkFitsModel(t.spec().vocab());
        this.maxLength = maxLength != null ? maxLength : resolveMaxLength(modelDir);
        this.eosIds = GenerationTokenIds.read(modelDir).eos();
        JsonNode gen = modelDir.generationConfig();
        if (gen != null && gen.has("repetition_penalty") && gen.get("repetition_penalty").asDouble() != 1.0) {
            throw new CrucibleException(dir + ": generation_config.json sets repetition_penalty, which transformers "
                    + "applies to lm-eval's greedy generation and Crucible does not (yet)");
        }
    }

    /** lm-eval's resolve_max_length: n_positions, max_position_embeddings, n_ctx, tokenizer model_max_length, 2048. */
    static int resolveMaxLength(ModelDirectory dir) {
        ModelConfig c = dir.config();
        JsonNode text = c.get("text_config");
        for (String key : List.of("n_positions", "max_position_embeddings", "n_ctx")) {
            JsonNode n = text != null && text.has(key) ? text.get(key) : c.get(key);
            if (n != null && n.isNumber()) {
                return n.asInt();
            }
        }
        JsonNode tc = dir.tokenizerConfig();
        if (tc != null && tc.has("model_max_length") && tc.get("model_max_length").isNumber()
                && tc.get("model_max_length").decimalValue().compareTo(TOKENIZER_INFINITY) != 0) {
            return tc.get("model_max_length").asInt();
        }
        return 2048;
    }

    public Path directory() {
        return dir;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public int maxLength() {
        return maxLength;
    }

    /** The token for an empty context and before rolling windows: BOS, else EOS (lm-eval's prefix_token_id). */
    int prefixTokenId() {
        Integer bos = tokenizer.bosTokenId();
        if (bos != null) {
            return bos;
        }
        Integer eos = tokenizer.eosTokenId();
        if (eos == null) {
            throw new CrucibleException(dir + ": the tokenizer has neither a BOS nor an EOS token for empty contexts");
        }
        return eos;
    }

    Integer eotTokenId() {
        return tokenizer.eosTokenId();
    }

    /** lm-eval's tok_encode: the tokenizer's special tokens, unless the text already starts with the prefix token. */
    public int[] encode(String text) {
        String prefix = tokenizer.decode(new int[] {prefixTokenId()}, false);
        return tokenizer.encode(text, !text.startsWith(prefix));
    }

    /** The (context, continuation) pairs of loglikelihood requests as lm-eval encodes them. */
    List<int[][]> encodePairs(List<Instance> requests) {
        List<String> texts = new ArrayList<>();
        List<Boolean> special = new ArrayList<>();
        String prefix = tokenizer.decode(new int[] {prefixTokenId()}, false);
        for (Instance r : requests) {
            String context = (String) r.arguments.get(0);
            String continuation = (String) r.arguments.get(1);
            if (context.isEmpty()) {
                texts.add(continuation);
                special.add(false);
                texts.add(continuation); // unused second slot keeps the layout uniform
                special.add(false);
                continue;
            }
            String trimmed = PyText.rstrip(context);
            String moved = context.substring(trimmed.length());
            texts.add(trimmed + moved + continuation);
            special.add(!(trimmed + moved + continuation).startsWith(prefix));
            texts.add(trimmed);
            special.add(!trimmed.startsWith(prefix));
        }
        List<int[]> encoded = encodeAll(texts, special);
        List<int[][]> out = new ArrayList<>();
        for (int i = 0; i < requests.size(); i++) {
            int[] whole = encoded.get(2 * i);
            String context = (String) requests.get(i).arguments.get(0);
            if (context.isEmpty()) {
                int p = prefixTokenId();
                if (whole.length > 0 && whole[0] == p) {
                    out.add(new int[][] {Arrays.copyOf(whole, 1), Arrays.copyOfRange(whole, 1, whole.length)});
                } else {
                    out.add(new int[][] {{p}, whole});
                }
                continue;
            }
            int[] ctx = encoded.get(2 * i + 1);
            out.add(new int[][] {ctx, Arrays.copyOfRange(whole, Math.min(ctx.length, whole.length), whole.length)});
        }
        return out;
    }

    /** Encodes in two native batches (texts with and without the special tokens), keeping the order. */
    private List<int[]> encodeAll(List<String> texts, List<Boolean> special) {
        List<String> with = new ArrayList<>();
        List<String> without = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            (special.get(i) ? with : without).add(texts.get(i));
        }
        List<int[]> a = with.isEmpty() ? List.of() : tokenizer.encodeBatch(with, true);
        List<int[]> b = without.isEmpty() ? List.of() : tokenizer.encodeBatch(without, false);
        List<int[]> out = new ArrayList<>(texts.size());
        int ia = 0;
        int ib = 0;
        for (Boolean s : special) {
            out.add(s ? a.get(ia++) : b.get(ib++));
        }
        return out;
    }

    /** Log-likelihood of each continuation given its context: lm-eval's {@code loglikelihood}. */
    List<LoglikelihoodResult> loglikelihood(List<Instance> requests, LongConsumer progress) {
        List<ContinuationScorer.Request> scored = new ArrayList<>();
        for (int[][] pair : encodePairs(requests)) {
            if (pair[1].length == 0) {
                throw new CrucibleException("a continuation encodes to no tokens (context " + abbreviate(pair) + ")");
            }
            if (pair[1].length > maxLength) {
                throw new CrucibleException("a continuation of " + pair[1].length + " tokens is longer than the "
                        + "maximum length " + maxLength);
            }
            scored.add(ContinuationScorer.request(pair[0], pair[1], maxLength));
        }
        return Arrays.asList(new ContinuationScorer(transformer).score(scored, progress));
    }

    private static String abbreviate(int[][] pair) {
        return pair[0].length + " tokens";
    }

    /**
     * The rolling-window log-likelihood of each whole text (lm-eval's {@code loglikelihood_rolling}): the text's
     * tokens (with the tokenizer's special tokens) predicted in disjoint windows of at most max_length, the first
     * after the prefix token, each later one with max_length tokens of context.
     */
    List<Double> loglikelihoodRolling(List<Instance> requests, LongConsumer progress) {
        List<ContinuationScorer.Request> windows = new ArrayList<>();
        int[] counts = new int[requests.size()];
        for (int i = 0; i < requests.size(); i++) {
            int[] tokens = encode((String) requests.get(i).arguments.get(0));
            for (int[][] w : rollingWindows(tokens, prefixTokenId(), maxLength)) {
                windows.add(ContinuationScorer.request(w[0], w[1], maxLength));
                counts[i]++;
            }
        }
        LoglikelihoodResult[] scored = new ContinuationScorer(transformer).score(windows, progress);
        List<Double> out = new ArrayList<>();
        int k = 0;
        for (int count : counts) {
            double sum = 0;
            for (int j = 0; j < count; j++) {
                sum += scored[k++].logprob();
            }
            out.add(sum);
        }
        return out;
    }

    /** lm-eval's get_rolling_token_windows(context_len=1) made disjoint: {context, continuation} per window. */
    static List<int[][]> rollingWindows(int[] tokens, int prefix, int maxSeqLen) {
        List<int[][]> out = new ArrayList<>();
        if (tokens.length == 0) {
            return out;
        }
        int predLen = maxSeqLen;
        int first = Math.min(maxSeqLen, tokens.length);
        out.add(new int[][] {{prefix}, Arrays.copyOf(tokens, first)});
        int predicted = first;
        while (predicted < tokens.length) {
            int windowPred = Math.min(tokens.length - predicted, predLen);
            int end = predicted + windowPred;
            int[] input = Arrays.copyOfRange(tokens, end - maxSeqLen - 1, end - 1);
            int[] pred = Arrays.copyOfRange(tokens, end - windowPred, end);
            out.add(new int[][] {Arrays.copyOf(input, input.length - (pred.length - 1)), pred});
            predicted += windowPred;
        }
        return out;
    }

    /** Greedy generation with lm-eval's stopping rules; returns the text before the first stop sequence. */
    List<String> generateUntil(List<Instance> requests, LongConsumer progress) {
        List<String> out = new ArrayList<>();
        long done = 0;
        String eos = eotTokenId() == null ? null : tokenizer.decode(new int[] {eotTokenId()}, false);
        for (Instance r : requests) {
            String context = (String) r.arguments.get(0);
            @SuppressWarnings("unchecked")
            Map<String, Object> kwargs = new LinkedHashMap<>((Map<String, Object>) r.arguments.get(1));
            out.add(generate(context, kwargs, eos));
            progress.accept(++done);
        }
        return out;
    }

    private String generate(String context, Map<String, Object> kwargs, String eos) {
        List<String> until = new ArrayList<>();
        Object u = kwargs.remove("until");
        if (u instanceof String s) {
            until.add(s);
        } else if (u instanceof List<?> l) {
            l.forEach(x -> until.add(String.valueOf(x)));
        }
        if (eos != null && !until.contains(eos)) {
            until.add(eos);
        }
        int maxGen = DEFAULT_MAX_GEN_TOKS;
        for (String alias : List.of("max_completion_tokens", "max_tokens", "max_new_tokens", "max_gen_toks")) {
            if (kwargs.get(alias) instanceof Number n) {
                maxGen = n.intValue();
            }
        }
        Object doSample = kwargs.get("do_sample");
        double temperature = kwargs.get("temperature") instanceof Number t ? t.doubleValue() : 0.0;
        if (Boolean.TRUE.equals(doSample) || (doSample == null && temperature > 0)) {
            throw new CrucibleException("generation_kwargs ask for sampling (do_sample / temperature > 0); Crucible "
                    + "runs lm-eval's greedy generation only");
        }
        if (kwargs.get("num_beams") instanceof Number n && n.intValue() > 1) {
            throw new CrucibleException("generation_kwargs num_beams > 1 (beam search) is not supported");
        }
        int maxCtx = maxLength - maxGen;
        if (maxCtx <= 0) {
            throw new CrucibleException("max_gen_toks " + maxGen + " must be less than the maximum length " + maxLength);
        }
        String bos = tokenizer.specialTokens().bos();
        int[] ids = tokenizer.encode(context, bos == null || !context.startsWith(bos));
        if (ids.length > maxCtx) {
            ids = Arrays.copyOfRange(ids, ids.length - maxCtx, ids.length);
        }
        int maxTotal = kwargs.get("max_length") instanceof Number n ? n.intValue() : ids.length + maxGen;
        List<int[]> stopIds = new ArrayList<>();
        for (String s : until) {
            stopIds.add(tokenizer.encode(s, false));
        }
        KVCache cache = transformer.newCache(1, Math.max(1, maxTotal));
        int vocab = transformer.spec().vocab();
        int[] generated = new int[Math.max(0, maxTotal - ids.length)];
        int n = 0;
        float[] logits = transformer.forward(new int[][] {ids}, cache, Transformer.Logits.LAST, null);
        while (ids.length + n < maxTotal) {
            int token = argmax(logits, vocab);
            generated[n++] = token;
            if (eosIds.contains(token) || stopped(generated, n, until, stopIds) || ids.length + n >= maxTotal) {
                break;
            }
            logits = transformer.forward(new int[][] {{token}}, cache, Transformer.Logits.LAST, null);
        }
        String text = decode(Arrays.copyOf(generated, n), true);
        for (String term : until) {
            if (!term.isEmpty()) {
                int at = text.indexOf(term);
                if (at >= 0) {
                    text = text.substring(0, at);
                }
            }
        }
        return text;
    }

    /** lm-eval's MultiTokenEOSCriteria: a stop string in the decoded last len(stop tokens) + 2 generated tokens. */
    private boolean stopped(int[] generated, int n, List<String> until, List<int[]> stopIds) {
        for (int i = 0; i < until.size(); i++) {
            int look = Math.min(n, stopIds.get(i).length + 2);
            String tail = decode(Arrays.copyOfRange(generated, n - look, n), false);
            if (tail.contains(until.get(i))) {
                return true;
            }
        }
        return false;
    }

    /**
     * Decodes as Hugging Face's tokenizer does, which skips ids it has no token for: a model's embedding may have
     * more rows than its tokenizer has tokens (padded vocabularies), and a generation can pick such a row.
     */
    private String decode(int[] ids, boolean skipSpecial) {
        int[] known = Arrays.stream(ids).filter(id -> tokenizer.idToToken(id) != null).toArray();
        return tokenizer.decode(known, skipSpecial);
    }

    private static int argmax(float[] logits, int vocab) {
        int best = 0;
        for (int v = 1; v < vocab; v++) {
            if (logits[v] > logits[best]) {
                best = v;
            }
        }
        return best;
    }

    /**
     * The model's chat template as lm-eval applies it: the messages with the assistant prompt, or, when a
     * gen_prefix starts the answer, continuing the final (assistant) message as transformers'
     * {@code continue_final_message} does (a marker appended to its content, the render cut where the marker is).
     */
    EvalTask.ChatFormatter chatFormatter() {
        ChatTemplate template = ChatTemplate.fromModel(modelDir);
        String tag = "CONTINUE_FINAL_MESSAGE_TAG ";
        return (messages, generationPrompt) -> {
            if (generationPrompt) {
                return template.render(ChatRequest.of(messages).withGenerationPrompt(true));
            }
            List<Map<String, Object>> marked = new ArrayList<>(messages);
            Map<String, Object> last = new LinkedHashMap<>(messages.getLast());
            String content = String.valueOf(last.get("content"));
            last.put("content", content + tag);
            marked.set(marked.size() - 1, last);
            String text = template.render(ChatRequest.of(marked).withGenerationPrompt(false));
            int at = text.lastIndexOf(tag.strip());
            if (at < 0 || !text.contains(PyText.strip(content))) {
                throw new CrucibleException("the chat template drops part of the final message, so it cannot be "
                        + "continued (gen_prefix with --apply-chat-template)");
            }
            return text.startsWith(tag, at) ? text.substring(0, at) : PyText.rstrip(text.substring(0, at));
        };
    }

    public String chatTemplateSource() {
        return modelDir.chatTemplate();
    }

    @Override
    public void close() {
        tokenizer.close();
        transformer.close();
    }
}
