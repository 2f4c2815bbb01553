package dev.crucible.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.nn.DecoderTraining;
import dev.crucible.nn.Tape;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Supervised fine-tuning: the causal-LM cross entropy of each micro-batch's label tokens, accumulated token-weighted
 * (the step's loss is the mean over every label token of its micro-batches, as transformers since 4.46).
 */
public final class SftObjective implements Objective<SftObjective.Example> {

    /**
     * Token ids and labels of one training sequence, unshifted; label -100 excludes a position from the loss. A
     * packed sequence also has {@code positionIds} (rope positions, restarting per example) and {@code sequenceIds}
     * (the example of each token, for the block-diagonal attention mask); both null for a single example.
     */
    public record Example(int[] ids, int[] labels, int[] positionIds, int[] sequenceIds) {
        public Example {
            if (ids.length != labels.length || ids.length == 0) {
                throw new IllegalArgumentException("an example needs as many labels as ids (and at least one token)");
            }
            if ((positionIds == null) != (sequenceIds == null)
                    || positionIds != null && (positionIds.length != ids.length || sequenceIds.length != ids.length)) {
                throw new IllegalArgumentException("a packed sequence needs a position and a sequence id for every token");
            }
        }

        public Example(int[] ids, int[] labels) {
            this(ids, labels, null, null);
        }
    }

    private final DecoderTraining model;
    private final int sequenceLen;
    private final boolean padToSequenceLen;
    private final int padId;

    SftObjective(DecoderTraining model, Trainer.Settings settings, int padId) {
        this.model = model;
        this.sequenceLen = settings.sequenceLen();
        this.padToSequenceLen = settings.padToSequenceLen();
        this.padId = padId;
    }

    @Override
    public MicroBatch train(List<Example> examples, int[] indices, SplittableRandom dropout) {
        Batch b = batch(examples);
        Tape tape = new Tape();
        DecoderTraining.Output out = model.forward(tape, b.ids, b.rows, b.seq, b.labels, b.positions, b.sequences, dropout);
        double loss = 0;
        if (out.lossTokens() > 0) {
            tape.backward(out.loss(), out.lossTokens());
            loss = out.loss().value()[0];
        }
        return new MicroBatch(loss, out.lossTokens(), out.lossTokens(), b.ids.length, Map.of());
    }

    /** Loss per label token over {@code examples}. */
    @Override
    public Map<String, Double> evaluate(List<Example> examples, int microBatchSize) {
        double sum = 0;
        long tokens = 0;
        for (int i = 0; i < examples.size(); i += microBatchSize) {
            Batch b = batch(examples.subList(i, Math.min(examples.size(), i + microBatchSize)));
            DecoderTraining.Output out = model.forward(new Tape(), b.ids, b.rows, b.seq, b.labels, b.positions, b.sequences, null);
            sum += (double) out.loss().value()[0] * out.lossTokens();
            tokens += out.lossTokens();
        }
        return Map.of("eval_loss", tokens == 0 ? Double.NaN : sum / tokens);
    }

    @Override
    public String name() {
        return "sft";
    }

    @Override
    public ObjectNode describe() {
        return new ObjectMapper().createObjectNode();
    }

    /** {@code positions} and {@code sequences} are null unless some row is a packed sequence. */
    private record Batch(int[] ids, int[] labels, int[] positions, int[] sequences, int rows, int seq) {
    }

    /**
     * Right-pads a micro-batch to its longest example (cut to sequence_len), or to sequence_len itself with
     * {@code pad_to_sequence_len}; padding is never a label and, in packed batches, forms its own trailing segment so
     * no real token attends it. Causal attention keeps real tokens from attending right padding, so the padded length
     * changes no number, only the work.
     */
    private Batch batch(List<Example> examples) {
        int seq = padToSequenceLen ? sequenceLen : 0;
        boolean packed = false;
        for (Example e : examples) {
            seq = Math.max(seq, Math.min(e.ids().length, sequenceLen));
            packed |= e.sequenceIds() != null;
        }
        int[] ids = new int[examples.size() * seq];
        int[] labels = new int[examples.size() * seq];
        int[] positions = packed ? new int[ids.length] : null;
        int[] sequences = packed ? new int[ids.length] : null;
        Arrays.fill(ids, padId);
        Arrays.fill(labels, -100);
        for (int r = 0; r < examples.size(); r++) {
            Example e = examples.get(r);
            int len = Math.min(e.ids().length, sequenceLen);
            System.arraycopy(e.ids(), 0, ids, r * seq, len);
            System.arraycopy(e.labels(), 0, labels, r * seq, len);
            if (packed) {
                for (int p = 0; p < seq; p++) {
                    boolean real = p < len;
                    positions[r * seq + p] = !real ? p - len : e.positionIds() == null ? p : e.positionIds()[p];
                    sequences[r * seq + p] = !real ? Integer.MAX_VALUE : e.sequenceIds() == null ? 0 : e.sequenceIds()[p];
                }
            }
        }
        return new Batch(ids, labels, positions, sequences, examples.size(), seq);
    }
}
