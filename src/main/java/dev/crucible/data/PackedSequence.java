package dev.crucible.data;

import java.util.List;

/**
 * One training sequence holding one or more whole examples back to back (sample packing).
 *
 * <p>The contract with the trainer: {@code positionIds} restart at 0 at the first token of every example (RoPE
 * positions), and {@code sequenceIds[i]} is the index (0, 1, ...) within this sequence of the example token
 * {@code i} belongs to. Attention must be block-diagonal causal: query {@code i} attends key {@code j} only when
 * {@code j <= i} and {@code sequenceIds[j] == sequenceIds[i]} (see {@link #attends}), so no example sees another.
 * Labels are each example's own, unshifted. After the shift the last token of one example would predict the
 * first token of the next, so the trainer ignores that target ({@code DecoderTraining}); no loss crosses a boundary.
 */
public record PackedSequence(int[] inputIds, int[] labels, int[] positionIds, int[] sequenceIds, int examples) {

    /** An unpacked example: one segment. */
    public static PackedSequence of(SftExample e) {
        return pack(List.of(e));
    }

    /** An unpacked example of {@code ids} with their (unshifted) {@code labels}. */
    public static PackedSequence of(int[] ids, int[] labels) {
        return of(new SftExample(ids, labels));
    }

    /** The examples back to back, in the given order. */
    public static PackedSequence pack(List<SftExample> examples) {
        int n = 0;
        for (SftExample e : examples) {
            n += e.length();
        }
        int[] ids = new int[n];
        int[] labels = new int[n];
        int[] positions = new int[n];
        int[] sequences = new int[n];
        int at = 0;
        for (int s = 0; s < examples.size(); s++) {
            SftExample e = examples.get(s);
            System.arraycopy(e.inputIds(), 0, ids, at, e.length());
            System.arraycopy(e.labels(), 0, labels, at, e.length());
            for (int p = 0; p < e.length(); p++) {
                positions[at + p] = p;
                sequences[at + p] = s;
            }
            at += e.length();
        }
        return new PackedSequence(ids, labels, positions, sequences, examples.size());
    }

    public int length() {
        return inputIds.length;
    }

    /** Whether query position {@code i} may attend key position {@code j}. */
    public boolean attends(int i, int j) {
        return j <= i && sequenceIds[i] == sequenceIds[j];
    }
}
