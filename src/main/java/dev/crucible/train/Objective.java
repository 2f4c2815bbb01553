package dev.crucible.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * What a training step minimises, for {@link Trainer}'s shared loop: supervised fine-tuning's cross entropy
 * ({@link SftObjective}) or a preference loss ({@link PreferenceObjective}). The loop draws micro-batches, runs
 * {@link #train} on each (which leaves the micro-batch's gradient summed into the parameters), divides the summed
 * gradients by the micro-batches' total {@link MicroBatch#weight}, clips, steps AdamW and logs.
 *
 * @param <E> the training examples
 */
interface Objective<E> {

    /**
     * One micro-batch's result. Its gradient must be {@code weight} times the gradient of {@code loss}, so the step's
     * gradient is that of the weighted mean loss: SFT weighs by loss tokens (transformers' token-weighted
     * accumulation), the preference methods by 1 (each micro-batch's mean loss divided by the accumulation steps,
     * as TRL's trainers scale it). {@code tokens} are logged per step, {@code inputTokens} (the padded batch) give
     * the throughput, {@code metrics} are logged under their names, averaged over micro-batches.
     */
    record MicroBatch(double loss, long weight, long tokens, long inputTokens, Map<String, Double> metrics) {
    }

    /** Forward and backward of the micro-batch {@code batch} (training examples {@code indices}). */
    MicroBatch train(List<E> batch, int[] indices, SplittableRandom dropout);

    /** {@code eval_loss} and any other {@code eval_} metrics over {@code examples}, in micro-batches, without training. */
    Map<String, Double> evaluate(List<E> examples, int microBatchSize);

    /** Recorded in checkpoints: a checkpoint of another objective cannot be resumed. */
    String name();

    /** The objective's settings, recorded in checkpoints and compared (as notes) on resume. */
    ObjectNode describe();

    /** True when micro-batches must be the data set's consecutive chunks in order (KTO), not a shuffled stream. */
    default boolean sequential() {
        return false;
    }

    /** Called before a run's first step (fresh or resumed) with its data. */
    default void prepare(List<E> train, List<E> validation) {
    }

    /** Writes the objective's own state into a checkpoint being staged ({@code state} is its trainer_state.json). */
    default void save(Path checkpointDir, ObjectNode state) {
    }

    /** Restores what {@link #save} wrote. */
    default void restore(Path checkpointDir, JsonNode state) {
    }

    /** Metrics of the log to chart beside the loss (e.g. a preference method's reward accuracy). */
    default List<String> chartMetrics() {
        return List.of();
    }
}
