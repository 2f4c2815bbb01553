package dev.crucible.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.data.Batches;
import dev.crucible.data.Batches.Batch;
import dev.crucible.data.PackedSequence;
import dev.crucible.nn.DecoderTraining;
import dev.crucible.autograd.Tape;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Supervised fine-tuning: the causal-LM cross entropy of each micro-batch's label tokens, accumulated token-weighted
 * (the step's loss is the mean over every label token of its micro-batches, as transformers since 4.46).
 */
public final class SftObjective implements Objective<PackedSequence> {

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
    public MicroBatch train(List<PackedSequence> examples, int[] indices, SplittableRandom dropout) {
        Forward b = batch(examples);
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
    public Map<String, Double> evaluate(List<PackedSequence> examples, int microBatchSize) {
        double sum = 0;
        long tokens = 0;
        for (int i = 0; i < examples.size(); i += microBatchSize) {
            Forward b = batch(examples.subList(i, Math.min(examples.size(), i + microBatchSize)));
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

    /** The micro-batch as {@link Batches} collates it; rope positions and segments only when some row is packed. */
    private Forward batch(List<PackedSequence> examples) {
        Batch b = Batches.collate(examples, padId, sequenceLen, padToSequenceLen ? sequenceLen : 0);
        return new Forward(b.inputIds(), b.labels(), b.packed() ? b.positionIds() : null,
                b.packed() ? b.sequenceIds() : null, b.rows(), b.seqLen());
    }

    private record Forward(int[] ids, int[] labels, int[] positions, int[] sequences, int rows, int seq) {
    }
}
