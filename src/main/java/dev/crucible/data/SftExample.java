package dev.crucible.data;

/**
 * One tokenised training example: token ids and labels of the same length, unshifted (as transformers' labels:
 * the model shifts them, so {@code labels[0]} is never predicted); {@link #IGNORE_INDEX} where no loss is taken.
 */
public record SftExample(int[] inputIds, int[] labels) {
    public static final int IGNORE_INDEX = -100;

    public SftExample {
        if (inputIds.length != labels.length) {
            throw new IllegalArgumentException("an example needs as many labels (" + labels.length + ") as ids ("
                    + inputIds.length + ")");
        }
    }

    public int length() {
        return inputIds.length;
    }

    /** Positions that contribute to the loss after the shift: labels other than -100 at positions 1 and later. */
    public int trainableTokens() {
        int n = 0;
        for (int i = 1; i < labels.length; i++) {
            n += labels[i] != IGNORE_INDEX ? 1 : 0;
        }
        return n;
    }
}
