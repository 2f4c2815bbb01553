package dev.crucible.data;

import dev.crucible.CrucibleException;
import dev.crucible.io.ModelDirectory;
import dev.crucible.model.Tokenizer;

import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;

/**
 * Micro-batches: sequences right-padded to the longest in the batch. Padding takes the pad id, label -100, and
 * forms its own trailing segment (sequence id one past the row's last example, positions from 0), so under the
 * block-diagonal mask of {@link PackedSequence} every query still attends at least itself and nothing real
 * attends padding.
 */
public final class Batches {
    private Batches() {
    }

    /**
     * A batch of {@code rows} x {@code seqLen} tokens, row-major; {@code packed} when some row holds more than one
     * example (otherwise positions are 0, 1, ... and the mask is plain causal, which the trainer computes faster).
     */
    public record Batch(int rows, int seqLen, int[] inputIds, int[] labels, int[] positionIds, int[] sequenceIds,
                        boolean packed) {
        /** Whether, in {@code row}, query position {@code i} may attend key position {@code j}. */
        public boolean attends(int row, int i, int j) {
            return j <= i && sequenceIds[row * seqLen + i] == sequenceIds[row * seqLen + j];
        }
    }

    /**
     * The one pad-id rule of training batches (SFT and preference): the tokenizer's pad token, else its EOS (as
     * Axolotl sets a missing pad token), else 0. The tokenizer's, not config.json's {@code pad_token_id}, because the
     * collator of the Hugging Face stack pads with the tokenizer's, and config.json's may be missing, stale or -1. The
     * value changes no number: padding has label -100 and comes after every real token of its row, which causal
     * attention never lets attend it; it only has to be a row of the embedding.
     */
    public static int padId(Tokenizer tokenizer) {
        Integer pad = tokenizer.padTokenId();
        if (pad == null) {
            pad = tokenizer.eosTokenId();
        }
        return pad == null ? 0 : pad;
    }

    /** {@link #padId(Tokenizer)} of the model's tokenizer; 0 for a directory without a tokenizer.json. */
    public static int padId(ModelDirectory model) {
        if (!Files.isRegularFile(model.path().resolve(Tokenizer.TOKENIZER_JSON))) {
            return 0;
        }
        try (Tokenizer tokenizer = Tokenizer.load(model)) {
            return padId(tokenizer);
        }
    }

    public static Batch collate(List<PackedSequence> sequences, int padId) {
        return collate(sequences, padId, Integer.MAX_VALUE, 0);
    }

    /**
     * The one collation of training micro-batches: each row cut to {@code maxLength} tokens, all right-padded to the
     * longest row, or to {@code padTo} when that is longer (Axolotl's {@code pad_to_sequence_len}). Causal attention
     * keeps real tokens from attending right padding, so the padded length changes no number, only the work.
     */
    public static Batch collate(List<PackedSequence> sequences, int padId, int maxLength, int padTo) {
        int seqLen = padTo;
        boolean packed = false;
        for (PackedSequence s : sequences) {
            seqLen = Math.max(seqLen, Math.min(s.length(), maxLength));
            packed |= s.examples() > 1;
        }
        int rows = sequences.size();
        int[] ids = new int[rows * seqLen];
        int[] labels = new int[rows * seqLen];
        int[] positions = new int[rows * seqLen];
        int[] seqIds = new int[rows * seqLen];
        Arrays.fill(ids, padId);
        Arrays.fill(labels, SftExample.IGNORE_INDEX);
        for (int r = 0; r < rows; r++) {
            PackedSequence s = sequences.get(r);
            int base = r * seqLen;
            int n = Math.min(s.length(), maxLength);
            System.arraycopy(s.inputIds(), 0, ids, base, n);
            System.arraycopy(s.labels(), 0, labels, base, n);
            System.arraycopy(s.positionIds(), 0, positions, base, n);
            System.arraycopy(s.sequenceIds(), 0, seqIds, base, n);
            for (int p = n; p < seqLen; p++) {
                positions[base + p] = p - n;
                seqIds[base + p] = s.examples();
            }
        }
        return new Batch(rows, seqLen, ids, labels, positions, seqIds, packed);
    }
}
