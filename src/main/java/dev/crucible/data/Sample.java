package dev.crucible.data;

import java.util.List;
import java.util.Map;

/** What a format adapter makes of one dataset row, before tokenisation. */
public sealed interface Sample {
    /** The row it came from (for error messages). */
    DatasetRow row();

    /** A conversation rendered through the chat template; the loss goes on the assistant turns. */
    record Chat(DatasetRow row, List<Map<String, Object>> messages) implements Sample {
        public Chat {
            messages = List.copyOf(messages);
        }
    }

    /**
     * Plain text {@code prompt + completion} tokenised with the tokenizer's own special tokens (BOS for Llama); the
     * loss goes on {@code completion}, and on the EOS token appended after it when {@code appendEos} is set.
     */
    record Text(DatasetRow row, String prompt, String completion, boolean appendEos) implements Sample {
    }
}
