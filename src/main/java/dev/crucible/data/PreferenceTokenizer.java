package dev.crucible.data;

import dev.crucible.CrucibleException;
import dev.crucible.model.Tokenizer;
import dev.crucible.model.template.ChatTemplate;
import dev.crucible.train.PreferenceExample;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import java.util.stream.IntStream;

/**
 * Tokenises preference rows exactly as TRL 1.13's trainers do.
 *
 * <p>{@link Style#TRL} ({@code DPOTrainer}, {@code KTOTrainer}: DPO, IPO, KTO). Strings: EOS text appended to each
 * completion unless it ends with it; {@code prompt_ids = tok(prompt)} and {@code tok(prompt + completion)} with the
 * tokenizer's special tokens (so BOS where its post-processor adds one); the completion is the second encoding
 * after {@code len(prompt_ids)}. Messages: the prompt rendered with the generation prompt and prompt + completion
 * without, both encoded without special tokens (the template writes them), no EOS added. A row whose prompt has
 * {@code max_length} tokens or more is dropped; each sequence (prompt + completion) is cut to its first
 * {@code max_length} tokens.
 *
 * <p>{@link Style#LEGACY} ({@code experimental.orpo.ORPOTrainer}, {@code experimental.cpo.CPOTrainer}: ORPO,
 * SimPO). Messages are first rendered to strings; then everything is encoded without special tokens, a completion
 * starting one token earlier where the prompt's last token merges with it, BOS prepended to each prompt and EOS
 * appended to each completion unless already there, and where prompt + the longer completion exceeds
 * {@code max_length} both completions are cut to {@code max_length − longer} tokens (Python's slice, TRL 1.13's
 * rule since it dropped {@code max_prompt_length}). No row is dropped, nor is the prompt cut.
 *
 * <p>Beyond TRL: {@code maxPromptLength} > 0 (Axolotl's {@code max_prompt_len}) keeps the last that many prompt
 * tokens; rows left with an empty completion are dropped (TRL's mean log-probability would be 0/0); both counted.
 */
public final class PreferenceTokenizer {
    /** Which of TRL's two tokenisations to follow. */
    public enum Style { TRL, LEGACY }

    private final Tokenizer tokenizer;
    private final ChatTemplate template;
    private final Style style;
    private final int maxLength;
    private final int maxPromptLength;
    private final PreferenceStats.Counter counter = new PreferenceStats.Counter();

    /** {@code template} may be null when no row is conversational; {@code maxPromptLength} 0 = no prompt limit. */
    public PreferenceTokenizer(Tokenizer tokenizer, ChatTemplate template, Style style, int maxLength, int maxPromptLength) {
        if (maxLength < 2) {
            throw new CrucibleException("sequence_len (the preference max_length) must be at least 2, got " + maxLength);
        }
        this.tokenizer = tokenizer;
        this.template = template;
        this.style = style;
        this.maxLength = maxLength;
        this.maxPromptLength = maxPromptLength;
    }

    public PreferenceStats stats() {
        return counter.stats();
    }

    /** The pairs of {@code rows} in order, without the dropped ones (counted). */
    public List<PreferenceExample.Pair> pairs(List<PreferenceSample.Paired> rows) {
        return all(rows, this::pairTokens);
    }

    /** The unpaired (KTO) examples of {@code rows} in order, without the dropped ones (counted). */
    public List<PreferenceExample.Unpaired> unpaired(List<PreferenceSample.Unpaired> rows) {
        if (style != Style.TRL) {
            throw new IllegalStateException("unpaired rows are KTO's, which tokenises in TRL's style");
        }
        return all(rows, this::unpairedTokens);
    }

    /**
     * Tokenises in parallel (tokenizer and template are thread-safe), then counts in order; of failing rows the
     * first in order is reported, so nothing depends on the thread count.
     */
    private <S, T> List<T> all(List<S> rows, Function<S, Tokenized<T>> tokenize) {
        Object[] results = new Object[rows.size()];
        IntStream.range(0, results.length).parallel().forEach(i -> {
            try {
                results[i] = tokenize.apply(rows.get(i));
            } catch (RuntimeException e) {
                results[i] = e;
            }
        });
        List<T> out = new ArrayList<>(results.length);
        for (Object r : results) {
            if (r instanceof RuntimeException e) {
                throw e;
            }
            @SuppressWarnings("unchecked")
            Tokenized<T> t = (Tokenized<T>) r;
            counter.rows++;
            counter.boundaryMismatches += t.mismatch ? 1 : 0;
            counter.promptsCut += t.promptCut > 0 ? 1 : 0;
            counter.promptTokensCut += t.promptCut;
            counter.truncatedSequences += t.truncatedSequences;
            counter.truncatedTokens += t.truncatedTokens;
            switch (t.dropped) {
                case LONG_PROMPT -> counter.droppedLongPrompt++;
                case EMPTY_COMPLETION -> counter.droppedEmptyCompletion++;
                case NONE -> {
                    counter.kept++;
                    counter.tokens += t.tokens;
                    counter.completionTokens += t.completionTokens;
                    out.add(t.example);
                }
            }
        }
        return out;
    }

    private enum Drop { NONE, LONG_PROMPT, EMPTY_COMPLETION }

    /** One row's result and what happened to it. */
    private static final class Tokenized<T> {
        T example;
        Drop dropped = Drop.NONE;
        boolean mismatch;
        int promptCut;
        int truncatedSequences;
        long truncatedTokens;
        long tokens;
        long completionTokens;
    }

    private Tokenized<PreferenceExample.Pair> pairTokens(PreferenceSample.Paired row) {
        PreferenceTexts.Split s = row.prompt() == null ? PreferenceTexts.extractPrompt(row)
                : new PreferenceTexts.Split(row.prompt(), row.chosen(), row.rejected());
        return style == Style.TRL ? trlPair(row, s) : legacyPair(row, s);
    }

    private Tokenized<PreferenceExample.Pair> trlPair(PreferenceSample.Paired row, PreferenceTexts.Split s) {
        Tokenized<PreferenceExample.Pair> t = new Tokenized<>();
        int[] prompt = promptIds(row, s.prompt());
        int[] chosen = completionIds(t, row, s.prompt(), prompt, s.chosen());
        int[] rejected = completionIds(t, row, s.prompt(), prompt, s.rejected());
        prompt = cutPrompt(t, prompt);
        if (prompt.length >= maxLength) {
            t.dropped = Drop.LONG_PROMPT;
            return t;
        }
        if (chosen.length == 0 || rejected.length == 0) {
            t.dropped = Drop.EMPTY_COMPLETION;
            return t;
        }
        t.example = new PreferenceExample.Pair(sequence(t, prompt, chosen), sequence(t, prompt, rejected));
        return t;
    }

    private Tokenized<PreferenceExample.Unpaired> unpairedTokens(PreferenceSample.Unpaired row) {
        Tokenized<PreferenceExample.Unpaired> t = new Tokenized<>();
        int[] prompt = promptIds(row, row.prompt());
        int[] completion = completionIds(t, row, row.prompt(), prompt, row.completion());
        prompt = cutPrompt(t, prompt);
        if (prompt.length >= maxLength) {
            t.dropped = Drop.LONG_PROMPT;
            return t;
        }
        if (completion.length == 0) {
            t.dropped = Drop.EMPTY_COMPLETION;
            return t;
        }
        PreferenceExample.Unpaired u = new PreferenceExample.Unpaired(prompt, completion, row.desirable());
        PreferenceExample.Sequence seq = u.sequence(completion, maxLength);
        t.truncatedSequences += seq.ids().length < prompt.length + completion.length ? 1 : 0;
        t.truncatedTokens += prompt.length + completion.length - seq.ids().length;
        t.tokens = seq.ids().length;
        t.completionTokens = seq.completionLength();
        t.example = u;
        return t;
    }

    /** TRL's prompt ids: {@code tok(prompt)}, or the chat template's prompt with the generation prompt. */
    private int[] promptIds(PreferenceSample row, Object prompt) {
        if (prompt instanceof String p) {
            return tokenizer.encode(p, true);
        }
        return tokenizer.encode(PreferenceTexts.render(template, PreferenceTexts.messages(prompt), true, row), false);
    }

    /** The completion's ids: the encoding of prompt + completion after {@code len(promptIds)}. */
    private int[] completionIds(Tokenized<?> t, PreferenceSample row, Object prompt, int[] promptIds, Object completion) {
        int[] full;
        if (completion instanceof String c) {
            String eos = tokenizer.specialTokens().eos();
            full = tokenizer.encode(prompt + (eos == null || c.endsWith(eos) ? c : c + eos), true);
        } else {
            full = tokenizer.encode(PreferenceTexts.render(template,
                    PreferenceTexts.concat(PreferenceTexts.messages(prompt), completion), false, row), false);
        }
        int n = Math.min(promptIds.length, full.length);
        t.mismatch |= full.length < promptIds.length || !Arrays.equals(full, 0, n, promptIds, 0, n);
        return Arrays.copyOfRange(full, n, full.length);
    }

    private int[] cutPrompt(Tokenized<?> t, int[] prompt) {
        if (maxPromptLength <= 0 || prompt.length <= maxPromptLength) {
            return prompt;
        }
        t.promptCut = prompt.length - maxPromptLength;
        return Arrays.copyOfRange(prompt, prompt.length - maxPromptLength, prompt.length);
    }

    /** {@code (prompt + completion)[:max_length]}, counted when cut. */
    private PreferenceExample.Sequence sequence(Tokenized<?> t, int[] prompt, int[] completion) {
        int total = prompt.length + completion.length;
        int n = Math.min(total, maxLength);
        int[] ids = Arrays.copyOf(prompt, n);
        System.arraycopy(completion, 0, ids, prompt.length, n - prompt.length);
        if (n < total) {
            t.truncatedSequences++;
            t.truncatedTokens += total - n;
        }
        t.tokens += n;
        t.completionTokens += n - prompt.length;
        return new PreferenceExample.Sequence(ids, prompt.length);
    }

    /** The experimental trainers' {@code tokenize_row}, after rendering conversational rows to strings. */
    private Tokenized<PreferenceExample.Pair> legacyPair(PreferenceSample.Paired row, PreferenceTexts.Split s) {
        if (!(s.prompt() instanceof String)) {
            s = PreferenceTexts.render(template, s, row);
        }
        String prompt = (String) s.prompt();
        int[] promptIds = tokenizer.encode(prompt, false);
        Tokenized<PreferenceExample.Pair> t = new Tokenized<>();
        int[][] chosen = answer(t, prompt, promptIds, (String) s.chosen());
        int[][] rejected = answer(t, prompt, promptIds, (String) s.rejected());
        int[] cp = chosen[0];
        int[] rp = rejected[0];
        int differentTokens = 0;
        for (int i = 0; i < Math.min(cp.length, rp.length); i++) {
            differentTokens += cp[i] != rp[i] ? 1 : 0;
        }
        if (differentTokens > 1 || Math.abs(cp.length - rp.length) > 1) {
            throw new CrucibleException(row.row().where() + ": the prompt tokenises differently before 'chosen' and"
                    + " before 'rejected' (more than the last token differs), so the two do not share a prompt");
        }
        Integer bos = tokenizer.bosTokenId();
        Integer eos = tokenizer.eosTokenId();
        cp = withBos(cutPrompt(t, cp), bos);
        rp = withBos(cutPrompt(t, rp), bos);
        int[] ca = withEos(chosen[1], eos);
        int[] ra = withEos(rejected[1], eos);
        int longer = Math.max(ca.length, ra.length);
        int[] cutCa = cp.length + longer > maxLength ? pySlice(ca, maxLength - longer) : ca;
        int[] cutRa = rp.length + longer > maxLength ? pySlice(ra, maxLength - longer) : ra;
        t.truncatedSequences += (cutCa.length < ca.length ? 1 : 0) + (cutRa.length < ra.length ? 1 : 0);
        t.truncatedTokens += ca.length - cutCa.length + ra.length - cutRa.length;
        if (cutCa.length == 0 || cutRa.length == 0) {
            t.dropped = Drop.EMPTY_COMPLETION;
            return t;
        }
        t.example = new PreferenceExample.Pair(join(t, cp, cutCa), join(t, rp, cutRa));
        return t;
    }

    /**
     * TRL's {@code build_tokenized_answer}: prompt + answer encoded together; the answer starts one token earlier
     * where the prompt's own encoding is not a prefix of it. Returns {prompt part, answer part}.
     */
    private int[][] answer(Tokenized<?> t, String prompt, int[] promptIds, String answer) {
        int[] full = tokenizer.encode(prompt + answer, false);
        int start = promptIds.length;
        int n = Math.min(start, full.length);
        if (full.length < start || !Arrays.equals(full, 0, n, promptIds, 0, n)) {
            start -= 1;
            t.mismatch = true;
        }
        start = Math.max(0, Math.min(start, full.length));
        return new int[][] {Arrays.copyOf(full, start), Arrays.copyOfRange(full, start, full.length)};
    }

    private PreferenceExample.Sequence join(Tokenized<?> t, int[] prompt, int[] answer) {
        int[] ids = Arrays.copyOf(prompt, prompt.length + answer.length);
        System.arraycopy(answer, 0, ids, prompt.length, answer.length);
        t.tokens += ids.length;
        t.completionTokens += answer.length;
        return new PreferenceExample.Sequence(ids, prompt.length);
    }

    private static int[] withBos(int[] prompt, Integer bos) {
        if (bos == null || prompt.length > 0 && prompt[0] == bos) {
            return prompt;
        }
        int[] out = new int[prompt.length + 1];
        out[0] = bos;
        System.arraycopy(prompt, 0, out, 1, prompt.length);
        return out;
    }

    private static int[] withEos(int[] answer, Integer eos) {
        if (eos == null || answer.length > 0 && answer[answer.length - 1] == eos) {
            return answer;
        }
        int[] out = Arrays.copyOf(answer, answer.length + 1);
        out[answer.length] = eos;
        return out;
    }

    /** Python's {@code a[:k]}: the first k elements, or for negative k all but the last -k. */
    private static int[] pySlice(int[] a, int k) {
        int end = k >= 0 ? Math.min(k, a.length) : Math.max(0, a.length + k);
        return Arrays.copyOf(a, end);
    }
}
