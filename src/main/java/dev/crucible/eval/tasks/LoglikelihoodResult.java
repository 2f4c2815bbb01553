package dev.crucible.eval.tasks;

/** A log-likelihood request's answer: the continuation's summed log-probability and whether greedy decoding gives it. */
public record LoglikelihoodResult(double logprob, boolean greedy) {
}
