package dev.crucible.data;

import dev.crucible.CrucibleException;
import dev.crucible.model.ChatTokenization;
import dev.crucible.model.Tokenizer;
import dev.crucible.model.template.ChatPrompt;
import dev.crucible.model.template.ChatRequest;
import dev.crucible.model.template.ChatTemplate;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * Tokenises {@link Sample}s into {@link SftExample}s.
 *
 * <ul>
 *   <li>Chat samples are rendered with their chat template (the dataset's, else the builder's) and encoded
 *       without the tokenizer's special tokens (the template writes BOS and turn markers, as
 *       {@code apply_chat_template}). The loss goes where the sample's {@link ChatLoss} says: by default on each
 *       assistant turn as the template renders it plus the closing it writes after it ({@code <|im_end|>\n} for
 *       ChatML, {@code <|eot_id|>} for Llama 3), located by diffing renders ({@link ChatTemplate#apply}). No EOS is
 *       appended: the closing is what the model learns to stop on, as in Axolotl's chat_template strategy.</li>
 *   <li>Text samples are encoded with the tokenizer's special tokens (BOS where its post-processor adds one); the
 *       loss goes on the completion. With {@code appendEos} the tokenizer's EOS is appended (and trained) unless
 *       the encoding already ends with it; a tokenizer without an EOS token gets nothing appended.</li>
 *   <li>{@code trainOnInputs} puts the loss on every token instead.</li>
 *   <li>Examples longer than {@code sequenceLen} keep their first {@code sequenceLen} tokens and are counted in
 *       the {@link DatasetStats}; examples left with no trainable token are dropped and counted.</li>
 * </ul>
 */
public final class ExampleBuilder {
    private final Tokenizer tokenizer;
    private final ChatTemplate chatTemplate;
    private final int sequenceLen;
    private final boolean trainOnInputs;
    private final Integer eos;
    private final DatasetStats.Counter counter = new DatasetStats.Counter();

    /** {@code chatTemplate} (for chat samples without their own) may be null when no chat format is used. */
    public ExampleBuilder(Tokenizer tokenizer, ChatTemplate chatTemplate, int sequenceLen, boolean trainOnInputs) {
        if (sequenceLen < 2) {
            throw new CrucibleException("sequence_len must be at least 2, got " + sequenceLen);
        }
        this.tokenizer = tokenizer;
        this.chatTemplate = chatTemplate;
        this.sequenceLen = sequenceLen;
        this.trainOnInputs = trainOnInputs;
        this.eos = tokenizer.eosTokenId();
    }

    /** The example of one sample, or null when it has no trainable token (counted as dropped). */
    public SftExample build(Sample sample) {
        return finish(tokenize(sample));
    }

    /**
     * The examples of many samples in their order, without the dropped ones. Rendering and tokenising run in
     * parallel (template and tokenizer are thread-safe); counting runs in order, and when samples fail the
     * first failing one in order is reported, so the result never depends on the thread count.
     */
    public List<SftExample> buildAll(List<Sample> samples) {
        Object[] results = new Object[samples.size()];
        IntStream.range(0, results.length).parallel().forEach(i -> {
            try {
                results[i] = tokenize(samples.get(i));
            } catch (RuntimeException e) {
                results[i] = e;
            }
        });
        List<SftExample> out = new ArrayList<>(results.length);
        for (Object r : results) {
            if (r instanceof RuntimeException e) {
                throw e;
            }
            SftExample example = finish((ChatTokenization.Tokens) r);
            if (example != null) {
                out.add(example);
            }
        }
        return out;
    }

    private ChatTokenization.Tokens tokenize(Sample sample) {
        return switch (sample) {
            case Sample.Chat chat -> chat(chat);
            case Sample.Text text -> text(text);
        };
    }

    private SftExample finish(ChatTokenization.Tokens tokens) {
        counter.rows++;
        int[] ids = tokens.ids();
        int[] labels = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            labels[i] = trainOnInputs || tokens.assistant()[i] ? ids[i] : SftExample.IGNORE_INDEX;
        }
        if (ids.length > sequenceLen) {
            counter.truncated++;
            counter.truncatedTokens += ids.length - sequenceLen;
            ids = Arrays.copyOf(ids, sequenceLen);
            labels = Arrays.copyOf(labels, sequenceLen);
        }
        SftExample example = new SftExample(ids, labels);
        if (example.trainableTokens() == 0) {
            counter.droppedWithoutLoss++;
            return null;
        }
        counter.kept(example);
        return example;
    }

    /** The numbers so far. */
    public DatasetStats stats() {
        return counter.stats();
    }

    private ChatTokenization.Tokens chat(Sample.Chat chat) {
        ChatTemplate template = chat.template() != null ? chat.template() : chatTemplate;
        if (template == null) {
            throw new CrucibleException(chat.row().where() + ": a chat dataset needs a chat template (set chat_template"
                    + " or use a model that has one)");
        }
        List<Map<String, Object>> messages = chat.messages();
        ChatLoss loss = chat.loss();
        ChatPrompt prompt;
        try {
            prompt = template.apply(new ChatRequest(messages, chat.tools(), null, false, Map.of()), loss.rolesToLocate());
        } catch (CrucibleException e) {
            throw new CrucibleException(chat.row().where() + ": the chat template failed: " + e.getMessage(), e);
        }
        for (int i = 0; i < messages.size(); i++) {
            Object role = messages.get(i).get("role");
            if (loss.rolesToTrain().contains(role) && prompt.turn(i) == null) {
                throw new CrucibleException(chat.row().where() + ": message " + i + " (" + role + ") cannot be located"
                        + " in the rendered chat template (the template drops it or renders it inseparably from"
                        + " another message), so its loss mask cannot be built");
            }
        }
        return ChatTokenization.tokenize(tokenizer, prompt, loss.ranges(prompt));
    }

    private ChatTokenization.Tokens text(Sample.Text text) {
        String full = text.prompt() + text.completion();
        ChatTokenization.Tokens t = ChatTokenization.tokenize(tokenizer, full,
                List.of(new ChatTokenization.LossRange(text.prompt().length(), full.length(), false)), true);
        int[] ids = t.ids();
        boolean[] loss = t.assistant();
        boolean endsWithEos = eos != null && ids.length > 0 && ids[ids.length - 1] == eos;
        if (endsWithEos && !text.completion().isEmpty()) {
            loss[ids.length - 1] = true; // the post-processor's EOS closes the completion
        } else if (text.appendEos() && eos != null) {
            ids = Arrays.copyOf(ids, ids.length + 1);
            ids[ids.length - 1] = eos;
            loss = Arrays.copyOf(loss, loss.length + 1);
            loss[loss.length - 1] = true;
        }
        return new ChatTokenization.Tokens(ids, loss);
    }
}
