package dev.crucible.data;

import java.util.Locale;

/**
 * What loading a dataset did, printed by the CLI before training: rows read, examples kept, examples dropped
 * because no token carried loss (e.g. a conversation without an assistant turn, or one whose assistant turns
 * were all cut off by {@code sequence_len}), examples truncated to {@code sequence_len} and the tokens this cut
 * off, and the token counts of the kept examples.
 */
public record DatasetStats(long rows, long examples, long droppedWithoutLoss, long truncated, long truncatedTokens,
                           long tokens, long trainableTokens, int maxLength) {

    public double meanLength() {
        return examples == 0 ? 0 : (double) tokens / examples;
    }

    /** A few lines for the terminal. */
    public String summary(int sequenceLen) {
        return String.format(Locale.ROOT,
                "dataset: %,d rows -> %,d examples (%,d dropped without trainable tokens)%n"
                        + "tokens: %,d (%,d trainable), mean length %.1f, max length %,d%n"
                        + "truncated to sequence_len %,d: %,d examples, %,d tokens cut off",
                rows, examples, droppedWithoutLoss, tokens, trainableTokens, meanLength(), maxLength, sequenceLen,
                truncated, truncatedTokens);
    }

    /** Accumulates the numbers while examples are built. */
    static final class Counter {
        long rows;
        long examples;
        long droppedWithoutLoss;
        long truncated;
        long truncatedTokens;
        long tokens;
        long trainableTokens;
        int maxLength;

        void kept(SftExample e) {
            examples++;
            tokens += e.length();
            trainableTokens += e.trainableTokens();
            maxLength = Math.max(maxLength, e.length());
        }

        DatasetStats stats() {
            return new DatasetStats(rows, examples, droppedWithoutLoss, truncated, truncatedTokens, tokens,
                    trainableTokens, maxLength);
        }
    }
}
