package dev.crucible.train;

import dev.crucible.data.PreferenceExample;
import dev.crucible.nn.DecoderTraining;
import dev.crucible.autograd.LogProbs;
import dev.crucible.autograd.Ops;
import dev.crucible.autograd.Tape;

import java.util.Arrays;
import java.util.List;

/**
 * Sequences of a preference micro-batch as one right-padded batch (TRL's concatenated forward: chosen and rejected
 * rows go through the model together), with the target of every position that some loss or metric scores: the
 * completion tokens, and with {@code wholeFirst} every token of the first {@code wholeRows} rows (ORPO's cross
 * entropy of the chosen rows). Padding is never attended by a real token (causal attention, right padding), so it
 * changes no number.
 */
record PreferenceBatch(int[] ids, int[] targets, TokenLayout layout) {

    static PreferenceBatch of(List<PreferenceExample.Sequence> rows, int padId, int wholeRows) {
        int seq = 1;
        for (PreferenceExample.Sequence s : rows) {
            seq = Math.max(seq, s.ids().length);
        }
        int n = rows.size();
        int[] ids = new int[n * seq];
        int[] targets = new int[n * seq];
        int[] prompt = new int[n];
        int[] length = new int[n];
        Arrays.fill(ids, padId);
        Arrays.fill(targets, Ops.IGNORE_INDEX);
        for (int r = 0; r < n; r++) {
            PreferenceExample.Sequence s = rows.get(r);
            System.arraycopy(s.ids(), 0, ids, r * seq, s.ids().length);
            prompt[r] = s.promptLength();
            length[r] = s.ids().length;
        }
        TokenLayout layout = new TokenLayout(seq, prompt, length);
        for (int r = 0; r < n; r++) {
            int from = r < wholeRows ? r * seq : layout.completionFrom(r);
            for (int t = from; t < layout.scoredTo(r); t++) {
                targets[t] = ids[t + 1];
            }
        }
        return new PreferenceBatch(ids, targets, layout);
    }

    int rows() {
        return layout.rows();
    }

    /** Real tokens of all rows (TRL's {@code attention_mask.sum()}). */
    long tokens() {
        long n = 0;
        for (int l : layout.length()) {
            n += l;
        }
        return n;
    }

    /**
     * The log-probabilities of the targets through {@code model}, and the statistics of the logits at
     * {@code statisticsRows} (null: none); a model that trains nothing runs on an {@link Tape#inference} tape.
     */
    LogProbs.Result logProbs(DecoderTraining model, Tape tape, boolean[] statisticsRows) {
        return model.logProbs(tape, ids, rows(), layout.seq(), targets, statisticsRows);
    }

    /** Each row's summed completion log-probability under {@code model}, without gradient. */
    double[] completionLogps(DecoderTraining model) {
        float[] lp = logProbs(model, Tape.inference(), null).logProbs().value();
        double[] out = new double[rows()];
        for (int r = 0; r < out.length; r++) {
            out[r] = layout.completionSum(lp, r);
        }
        return out;
    }
}
