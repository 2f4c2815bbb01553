package dev.crucible.train;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The preference losses as TRL 1.13 computes them, on the per-token log-probabilities of one micro-batch, with their
 * gradient with respect to each of those log-probabilities (the trainer sends it back through the model) and the
 * metrics TRL logs under its own names.
 *
 * <p>Paired micro-batches hold B chosen rows, then the B rejected rows of the same pairs (TRL's concatenated
 * batch). Sequence log-probabilities are sums over the completion tokens (DPO, KTO), or their mean (ORPO, SimPO:
 * {@code average_log_prob}); the per-token log-probabilities are float32, everything after them double.
 * <ul>
 *   <li>DPO ({@code DPOTrainer}, {@code loss_type: sigmoid}): {@code −log σ(β Δ)}, Δ the difference of the chosen and
 *       rejected log-ratios to the reference. With label smoothing ε (Axolotl's {@code dpo_label_smoothing}) TRL 1.13
 *       applies ε only in its {@code robust} loss, {@code (−(1−ε) log σ(βΔ) + ε log σ(−βΔ)) / (1 − 2ε)}, which is
 *       what Crucible then computes. With {@code rpo_alpha} α (RPO, TRL's {@code loss_type: [sigmoid, sft]} with
 *       {@code loss_weights: [1, α]}) it adds α times the chosen completions' cross entropy, a mean over every chosen
 *       completion token of the micro-batch (TRL's {@code sft} term).</li>
 *   <li>IPO ({@code loss_type: ipo}): {@code (Δ_avg − 1/(2β))²} with each log-ratio divided by its completion length.</li>
 *   <li>ORPO: the chosen rows' cross entropy over all their tokens (prompt included, as TRL's ORPO computes it)
 *       minus β times the mean {@code log σ} of the log odds ratio of the mean log-probabilities.</li>
 *   <li>SimPO ({@code CPOTrainer}, {@code loss_type: simpo}): {@code −(1−ε) log σ(β(p̄_w − p̄_l − γ/β)) − ε log σ(−…)}
 *       plus {@code cpo_alpha} times the chosen completions' cross entropy.</li>
 *   <li>KTO: {@code 1 − σ(β(r − z))} for desirable and {@code 1 − σ(β(z − r))} for undesirable rows, weighted, averaged;
 *       z is the KL estimate from the mismatched completions, computed by the caller without gradient.</li>
 * </ul>
 */
public final class PreferenceLoss {
    /**
     * @param beta              TRL's {@code beta} (Axolotl {@code rl_beta}; {@code orpo_alpha} for ORPO)
     * @param labelSmoothing    DPO's robust ε (0: sigmoid) and SimPO's ε
     * @param simpoGamma        SimPO's target margin γ
     * @param cpoAlpha          SimPO's weight of the chosen cross entropy
     * @param desirableWeight   KTO's weight of desirable rows
     * @param undesirableWeight KTO's weight of undesirable rows
     * @param rpoAlpha          DPO's weight of the chosen cross entropy (Axolotl's {@code rpo_alpha}; 0: none)
     */
    public record Params(double beta, double labelSmoothing, double simpoGamma, double cpoAlpha, double desirableWeight,
                         double undesirableWeight, double rpoAlpha) {
    }

    /** The micro-batch's loss, its gradient per token position, and TRL's metrics of it (insertion-ordered). */
    public record Result(double loss, float[] weights, Map<String, Double> metrics) {
    }

    private PreferenceLoss() {
    }

    /**
     * DPO or IPO on a paired micro-batch; {@code refChosen} / {@code refRejected} are the reference model's summed
     * completion log-probabilities of the B pairs.
     */
    public static Result dpo(PreferenceMethod method, Params p, float[] logps, TokenLayout layout, double[] refChosen,
                             double[] refRejected) {
        int pairs = layout.rows() / 2;
        float[] weights = new float[logps.length];
        double loss = 0;
        Metrics m = new Metrics(pairs);
        double eps = p.labelSmoothing();
        for (int i = 0; i < pairs; i++) {
            int j = pairs + i;
            double chosen = layout.completionSum(logps, i);
            double rejected = layout.completionSum(logps, j);
            double chosenRatio = chosen - refChosen[i];
            double rejectedRatio = rejected - refRejected[i];
            double dChosen;
            double dRejected;
            if (method == PreferenceMethod.IPO) {
                double lc = Math.max(layout.completionTokens(i), 1);
                double lr = Math.max(layout.completionTokens(j), 1);
                double d = chosenRatio / lc - rejectedRatio / lr - 1 / (2 * p.beta());
                loss += d * d;
                dChosen = 2 * d / lc;
                dRejected = -2 * d / lr;
            } else {
                double z = p.beta() * (chosenRatio - rejectedRatio);
                double dDelta;
                if (eps == 0) {
                    loss += -logSigmoid(z);
                    dDelta = -p.beta() * sigmoid(-z);
                } else {
                    loss += (-(1 - eps) * logSigmoid(z) + eps * logSigmoid(-z)) / (1 - 2 * eps);
                    dDelta = p.beta() * (-(1 - eps) * sigmoid(-z) - eps * sigmoid(z)) / (1 - 2 * eps);
                }
                dChosen = dDelta;
                dRejected = -dDelta;
            }
            layout.addToCompletion(weights, i, dChosen / pairs);
            layout.addToCompletion(weights, j, dRejected / pairs);
            m.pair(p.beta() * chosenRatio, p.beta() * rejectedRatio, chosen, rejected);
        }
        double nll = p.rpoAlpha() == 0 ? 0 : chosenNll(p.rpoAlpha(), logps, layout, weights);
        return new Result(loss / pairs + p.rpoAlpha() * nll, weights, m.rewards());
    }

    /** ORPO on a paired micro-batch (no reference). */
    public static Result orpo(Params p, float[] logps, TokenLayout layout) {
        int pairs = layout.rows() / 2;
        float[] weights = new float[logps.length];
        // the chosen rows' cross entropy over every real token (TRL's ORPO labels are its attention mask)
        long nllTokens = 0;
        double nllSum = 0;
        for (int i = 0; i < pairs; i++) {
            for (int t = i * layout.seq(); t < layout.scoredTo(i); t++) {
                nllSum -= logps[t];
                nllTokens++;
            }
        }
        double nll = nllTokens == 0 ? 0 : nllSum / nllTokens;
        for (int i = 0; i < pairs && nllTokens > 0; i++) {
            for (int t = i * layout.seq(); t < layout.scoredTo(i); t++) {
                weights[t] -= (float) (1.0 / nllTokens);
            }
        }
        Metrics m = new Metrics(pairs);
        double ratioSum = 0;
        double oddsSum = 0;
        for (int i = 0; i < pairs; i++) {
            int j = pairs + i;
            double chosen = layout.completionSum(logps, i) / layout.scoredCompletion(i);
            double rejected = layout.completionSum(logps, j) / layout.scoredCompletion(j);
            double logOdds = (chosen - rejected) - (log1mexp(chosen) - log1mexp(rejected));
            ratioSum += logSigmoid(logOdds);
            oddsSum += logOdds;
            double dOdds = -p.beta() / pairs * sigmoid(-logOdds);
            // d logOdds / d chosen = 1 / (1 − e^chosen); d logOdds / d rejected = −1 / (1 − e^rejected)
            layout.addToCompletion(weights, i, dOdds / -Math.expm1(chosen) / layout.scoredCompletion(i));
            layout.addToCompletion(weights, j, -dOdds / -Math.expm1(rejected) / layout.scoredCompletion(j));
            m.pair(p.beta() * chosen, p.beta() * rejected, chosen, rejected);
        }
        Map<String, Double> metrics = m.rewards();
        metrics.put("nll_loss", nll);
        metrics.put("log_odds_ratio", ratioSum / pairs);
        metrics.put("log_odds_chosen", oddsSum / pairs);
        return new Result(nll - p.beta() * ratioSum / pairs, weights, metrics);
    }

    /** SimPO on a paired micro-batch (no reference). */
    public static Result simpo(Params p, float[] logps, TokenLayout layout) {
        int pairs = layout.rows() / 2;
        float[] weights = new float[logps.length];
        double eps = p.labelSmoothing();
        double nll = p.cpoAlpha() == 0 ? 0 : chosenNll(p.cpoAlpha(), logps, layout, weights);
        Metrics m = new Metrics(pairs);
        double loss = 0;
        for (int i = 0; i < pairs; i++) {
            int j = pairs + i;
            double chosen = layout.completionSum(logps, i) / layout.scoredCompletion(i);
            double rejected = layout.completionSum(logps, j) / layout.scoredCompletion(j);
            double z = p.beta() * ((chosen - rejected) - p.simpoGamma() / p.beta());
            loss += -(1 - eps) * logSigmoid(z) - eps * logSigmoid(-z);
            double dLogits = p.beta() * (-(1 - eps) * sigmoid(-z) + eps * sigmoid(z)) / pairs;
            layout.addToCompletion(weights, i, dLogits / layout.scoredCompletion(i));
            layout.addToCompletion(weights, j, -dLogits / layout.scoredCompletion(j));
            m.pair(p.beta() * chosen, p.beta() * rejected, chosen, rejected);
        }
        Map<String, Double> metrics = m.rewards();
        metrics.put("nll_loss", nll);
        return new Result(loss / pairs + p.cpoAlpha() * nll, weights, metrics);
    }

    /**
     * KTO on an unpaired micro-batch: {@code desirable[r]} is row r's label, {@code reference[r]} its reference
     * completion log-probability, {@code kl} the (already clamped, gradient-free) KL estimate of the micro-batch.
     */
    public static Result kto(Params p, float[] logps, TokenLayout layout, boolean[] desirable, double[] reference,
                             double kl) {
        int rows = layout.rows();
        float[] weights = new float[logps.length];
        double loss = 0;
        double[] sums = new double[4]; // rewards and log-probs of the desirable, then the undesirable rows
        int chosen = 0;
        for (int r = 0; r < rows; r++) {
            double logp = layout.completionSum(logps, r);
            double ratio = logp - reference[r];
            double z = desirable[r] ? p.beta() * (ratio - kl) : p.beta() * (kl - ratio);
            double s = sigmoid(z);
            double weight = desirable[r] ? p.desirableWeight() : p.undesirableWeight();
            loss += weight * (1 - s);
            double d = p.beta() * s * (1 - s) * (desirable[r] ? -1 : 1);
            layout.addToCompletion(weights, r, weight * d / rows);
            int k = desirable[r] ? 0 : 2;
            sums[k] += p.beta() * ratio;
            sums[k + 1] += logp;
            chosen += desirable[r] ? 1 : 0;
        }
        Map<String, Double> metrics = new LinkedHashMap<>();
        metrics.put("kl", kl);
        int rejected = rows - chosen;
        if (chosen > 0) {
            metrics.put("rewards/chosen", sums[0] / chosen);
            metrics.put("logps/chosen", sums[1] / chosen);
        }
        if (rejected > 0) {
            metrics.put("rewards/rejected", sums[2] / rejected);
            metrics.put("logps/rejected", sums[3] / rejected);
        }
        if (chosen > 0 && rejected > 0) {
            metrics.put("rewards/margins", sums[0] / chosen - sums[2] / rejected);
        }
        return new Result(loss / rows, weights, metrics);
    }

    /**
     * The chosen completions' cross entropy, one mean over every scored chosen completion token of the paired
     * micro-batch (TRL's DPO {@code sft} term, CPO's NLL); adds {@code alpha} times its gradient to {@code weights}.
     */
    private static double chosenNll(double alpha, float[] logps, TokenLayout layout, float[] weights) {
        int pairs = layout.rows() / 2;
        long tokens = 0;
        double sum = 0;
        for (int i = 0; i < pairs; i++) {
            sum -= layout.completionSum(logps, i);
            tokens += layout.scoredCompletion(i);
        }
        if (tokens == 0) {
            return 0;
        }
        for (int i = 0; i < pairs; i++) {
            layout.addToCompletion(weights, i, -alpha / tokens);
        }
        return sum / tokens;
    }

    /** The reward metrics every paired method logs, averaged over the pairs. */
    private static final class Metrics {
        private final int pairs;
        private double chosenReward;
        private double rejectedReward;
        private double accurate;
        private double chosenLogp;
        private double rejectedLogp;

        Metrics(int pairs) {
            this.pairs = pairs;
        }

        void pair(double chosenReward, double rejectedReward, double chosenLogp, double rejectedLogp) {
            this.chosenReward += chosenReward;
            this.rejectedReward += rejectedReward;
            accurate += chosenReward > rejectedReward ? 1 : 0;
            this.chosenLogp += chosenLogp;
            this.rejectedLogp += rejectedLogp;
        }

        Map<String, Double> rewards() {
            Map<String, Double> m = new LinkedHashMap<>();
            m.put("rewards/chosen", chosenReward / pairs);
            m.put("rewards/rejected", rejectedReward / pairs);
            m.put("rewards/accuracies", accurate / pairs);
            m.put("rewards/margins", (chosenReward - rejectedReward) / pairs);
            m.put("logps/chosen", chosenLogp / pairs);
            m.put("logps/rejected", rejectedLogp / pairs);
            return m;
        }
    }

    static double sigmoid(double z) {
        return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
    }

    static double logSigmoid(double z) {
        return z >= 0 ? -Math.log1p(Math.exp(-z)) : z - Math.log1p(Math.exp(z));
    }

    /** {@code log(1 − e^x)} for x < 0, on the stable branch either side of −ln 2 (TRL's {@code log1mexp}). */
    static double log1mexp(double x) {
        return x < -0.6931471805599453 ? Math.log1p(-Math.exp(x)) : Math.log(-Math.expm1(x));
    }
}
