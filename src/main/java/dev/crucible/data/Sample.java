package dev.crucible.data;

import dev.crucible.model.template.ChatTemplate;

import java.util.List;
import java.util.Map;

/** What a format adapter makes of one dataset row, before tokenisation. */
public sealed interface Sample {
    /** The row it came from (for error messages). */
    DatasetRow row();

    /**
     * A conversation rendered through a chat template, with the tools the template gets (null: none); the loss goes
     * where {@code loss} says (Axolotl's default: the assistant turns with their closings).
     *
     * @param template the dataset's own chat template, or null for the builder's
     */
    record Chat(DatasetRow row, List<Map<String, Object>> messages, List<?> tools, ChatLoss loss,
                ChatTemplate template) implements Sample {
        public Chat {
            messages = List.copyOf(messages);
        }

        /** Axolotl's defaults: no tools, loss on the assistant turns, the builder's template. */
        public Chat(DatasetRow row, List<Map<String, Object>> messages) {
            this(row, messages, null, ChatLoss.DEFAULT, null);
        }
    }

    /**
     * Plain text {@code prompt + completion} tokenised with the tokenizer's own special tokens (BOS for Llama); the
     * loss goes on {@code completion}, and on the EOS token appended after it when {@code appendEos} is set.
     */
    record Text(DatasetRow row, String prompt, String completion, boolean appendEos) implements Sample {
    }
}
