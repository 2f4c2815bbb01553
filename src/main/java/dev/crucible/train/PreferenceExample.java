package dev.crucible.train;

/**
 * A tokenised preference example as the preference trainer consumes it: a {@link Pair} of chosen and rejected
 * sequences (DPO, IPO, ORPO, SimPO) or an {@link Unpaired} prompt and completion with its label (KTO).
 */
public sealed interface PreferenceExample {

    /** Token ids whose first {@code promptLength} are the prompt and the rest the completion that carries the loss. */
    record Sequence(int[] ids, int promptLength) {
        public Sequence {
            if (promptLength < 0 || promptLength >= ids.length) {
                throw new IllegalArgumentException("a sequence needs a prompt of 0.." + (ids.length - 1) + " tokens"
                        + " before at least one completion token, got " + promptLength + " of " + ids.length);
            }
        }

        public int completionLength() {
            return ids.length - promptLength;
        }
    }

    /** Chosen and rejected, each with its own prompt tokens (the same ones, except where tokenisation merges). */
    record Pair(Sequence chosen, Sequence rejected) implements PreferenceExample {
    }

    /**
     * KTO's row: prompt and completion apart, because the trainer also pairs this prompt with another row's
     * completion (the KL estimate); both are cut to {@code max_length} only when a sequence is built.
     */
    record Unpaired(int[] prompt, int[] completion, boolean desirable) implements PreferenceExample {
        /** {@code (prompt + completion)[:maxLength]}, as TRL's KTO collator truncates. */
        public Sequence sequence(int[] completion, int maxLength) {
            int n = Math.min(prompt.length + completion.length, maxLength);
            int[] ids = new int[n];
            int p = Math.min(prompt.length, n);
            System.arraycopy(prompt, 0, ids, 0, p);
            System.arraycopy(completion, 0, ids, p, n - p);
            return new Sequence(ids, p);
        }
    }
}
