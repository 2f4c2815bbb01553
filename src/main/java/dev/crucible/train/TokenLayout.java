package dev.crucible.train;

/**
 * Where the tokens of a right-padded micro-batch are: {@code rows} sequences of {@code seq} positions; row r holds
 * {@code length[r]} real tokens, of which the first {@code promptLength[r]} are the prompt and the rest the
 * completion. Position t of a row carries the log-probability of token t + 1 (the causal shift), so the completion
 * is scored at positions {@code [max(promptLength − 1, 0), length − 2]} and the whole sequence at {@code [0, length − 2]}.
 */
public record TokenLayout(int seq, int[] promptLength, int[] length) {
    public TokenLayout {
        if (promptLength.length != length.length) {
            throw new IllegalArgumentException("a prompt length and a length per row");
        }
        for (int r = 0; r < length.length; r++) {
            if (length[r] > seq || promptLength[r] > length[r] || promptLength[r] < 0) {
                throw new IllegalArgumentException("row " + r + ": prompt " + promptLength[r] + " of " + length[r]
                        + " tokens in " + seq + " positions");
            }
        }
    }

    public int rows() {
        return length.length;
    }

    /** First position scoring a completion token of row r. */
    public int completionFrom(int r) {
        return r * seq + Math.max(promptLength[r] - 1, 0);
    }

    /** One past the last position scoring a token of row r. */
    public int scoredTo(int r) {
        return r * seq + Math.max(length[r] - 1, 0);
    }

    /** Completion tokens scored in row r (TRL's shifted completion mask). */
    public int scoredCompletion(int r) {
        return scoredTo(r) - Math.min(completionFrom(r), scoredTo(r));
    }

    /** Completion tokens of row r before the shift (TRL's {@code completion_mask.sum()}, IPO's length). */
    public int completionTokens(int r) {
        return length[r] - promptLength[r];
    }

    /** Σ of {@code values} over row r's completion positions. */
    public double completionSum(float[] values, int r) {
        double s = 0;
        for (int t = completionFrom(r); t < scoredTo(r); t++) {
            s += values[t];
        }
        return s;
    }

    /** Adds {@code w} to {@code weights} at row r's completion positions. */
    public void addToCompletion(float[] weights, int r, double w) {
        for (int t = completionFrom(r); t < scoredTo(r); t++) {
            weights[t] += (float) w;
        }
    }
}
