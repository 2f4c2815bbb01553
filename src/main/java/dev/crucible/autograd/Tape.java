package dev.crucible.autograd;

import java.util.ArrayList;
import java.util.List;

/**
 * Records, as ops run forward, how to send each result's gradient back to its inputs; {@link #backward} replays
 * those steps in reverse. Ops whose inputs need no gradient record nothing.
 */
public final class Tape {
    private final List<Runnable> steps = new ArrayList<>();
    private final boolean recording;

    public Tape() {
        this(true);
    }

    private Tape(boolean recording) {
        this.recording = recording;
    }

    /**
     * A tape for a forward that will never run backward (a reference model, evaluation): it records nothing, so
     * each activation is garbage as soon as the next op has read it, and ops skip work that only backward needs.
     */
    public static Tape inference() {
        return new Tape(false);
    }

    boolean recording() {
        return recording;
    }

    public void record(Runnable backwardStep) {
        if (recording) {
            steps.add(backwardStep);
        }
    }

    /** Seeds d(loss)/d(loss) = 1 and runs every recorded step from last to first; the tape is then empty. */
    public void backward(Var loss) {
        backward(loss, 1f);
    }

    /**
     * Backward with d(objective)/d(loss) = {@code scale}: e.g. the token count, to turn a mean loss into the summed
     * loss that gradient accumulation divides by the tokens of all micro-batches.
     */
    public void backward(Var loss, float scale) {
        if (loss.size() != 1) {
            throw new IllegalArgumentException("backward needs a scalar loss, got " + java.util.Arrays.toString(loss.shape()));
        }
        loss.grad()[0] += scale;
        replay();
    }

    /** Runs the recorded steps from last to first, for outputs whose gradients the caller has already set. */
    public void replay() {
        for (int i = steps.size() - 1; i >= 0; i--) {
            steps.get(i).run();
            // a step that has run is never needed again: dropping it frees the activations and gradients only it
            // held, so backward's memory falls as it goes instead of holding every layer's gradients at the end
            steps.set(i, null);
        }
        steps.clear();
    }

    public int size() {
        return steps.size();
    }
}
