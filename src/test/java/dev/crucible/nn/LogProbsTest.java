package dev.crucible.nn;

import dev.crucible.autograd.LogProbs;
import dev.crucible.autograd.Ops;
import dev.crucible.autograd.Tape;
import dev.crucible.autograd.Var;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.ModelConfig;
import dev.crucible.io.SafetensorsFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The chunked head's per-token log-probabilities: their values against the definition and their backward against
 * finite differences (trained and frozen head, with and without soft-capping, across chunks), their statistics
 * against direct sums, and summed completion log-probabilities of the Llama fixture against PyTorch ({@code testdata/hf/training/dpo}).
 */
class LogProbsTest {

    /** log softmax(cap(h Wᵀ + b))[t] in double, straight from the definition. */
    private static double direct(float[] h, float[] w, float[] bias, double cap, int row, int features, int vocab, int t) {
        double[] z = new double[vocab];
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < vocab; j++) {
            double s = bias == null ? 0 : bias[j];
            for (int k = 0; k < features; k++) {
                s += (double) h[row * features + k] * w[j * features + k];
            }
            z[j] = cap > 0 ? Math.tanh(s / cap) * cap : s;
            max = Math.max(max, z[j]);
        }
        double sum = 0;
        for (double v : z) {
            sum += Math.exp(v - max);
        }
        return z[t] - max - Math.log(sum);
    }

    /** More rows than one chunk, so that chunk boundaries are crossed; some rows without a target. */
    private static int[] targets(int n, int vocab) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = i % 7 == 3 ? Ops.IGNORE_INDEX : (i * 31) % vocab;
        }
        return t;
    }

    @ParameterizedTest
    @ValueSource(doubles = {0, 2.5})
    void valuesEqualTheDefinitionAcrossChunks(double cap) {
        int n = LogProbs.CHUNK_ROWS + 45;
        int features = 6;
        int vocab = 23;
        float[] h = OpsGradientTest.random(n * features, 1, 1);
        float[] w = OpsGradientTest.random(vocab * features, 2, 1);
        float[] bias = OpsGradientTest.random(vocab, 3, 1);
        int[] targets = targets(n, vocab);
        Var lp = LogProbs.of(new Tape(), Var.constant(h, n, features),
                new LogProbs.Head(Var.constant(w, vocab, features), Var.constant(bias, vocab), cap), targets, null).logProbs();
        for (int i = 0; i < n; i++) {
            double want = targets[i] == Ops.IGNORE_INDEX ? 0 : direct(h, w, bias, cap, i, features, vocab, targets[i]);
            assertEquals(want, lp.value()[i], 1e-5, "row " + i);
        }
    }

    /** A trained head (recomputed in backward) and a frozen one (input gradient precomputed in forward). */
    @ParameterizedTest
    @ValueSource(doubles = {0, 2.5})
    void backwardEqualsFiniteDifferences(double cap) {
        int n = LogProbs.CHUNK_ROWS + 9;
        int features = 3;
        int vocab = 11;
        int[] targets = targets(n, vocab);
        Var h = Var.leaf(OpsGradientTest.random(n * features, 4, 1), n, features);
        Var w = Var.leaf(OpsGradientTest.random(vocab * features, 5, 1), vocab, features);
        Var bias = Var.leaf(OpsGradientTest.random(vocab, 6, 1), vocab);
        OpsGradientTest.check("trained head", List.of(h, w, bias), List.of(h, w, bias),
                t -> LogProbs.of(t, h, new LogProbs.Head(w, bias, cap), targets, null).logProbs(), 2e-3);
        Var frozen = Var.constant(w.value(), vocab, features);
        OpsGradientTest.check("frozen head", List.of(h), List.of(h),
                t -> LogProbs.of(t, h, new LogProbs.Head(frozen, null, cap), targets, null).logProbs(), 2e-3);
        Var x = Var.leaf(OpsGradientTest.random(6, 2, 1), 6);
        float[] weights = OpsGradientTest.random(6, 3, 1);
        OpsGradientTest.check("weighted sum", List.of(x), List.of(x), t -> LogProbs.weightedSum(t, x, weights), 1e-3);
    }

    @Test
    void statisticsAreTheVocabularyMeanEntropyAndArgmax() {
        float[] v = {1, 3, 2, 3, -1, 0, 0, 0, 5, 5, 5, 5};
        float[] identity = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
        LogProbs.Result r = LogProbs.of(new Tape(), Var.constant(v, 3, 4),
                new LogProbs.Head(Var.constant(identity, 4, 4), null, 0), new int[] {2, 0, Ops.IGNORE_INDEX},
                new boolean[] {true, false, true});
        LogProbs.RowStatistics s = r.statistics();
        assertEquals(2.25, s.mean()[0], 1e-6);
        assertEquals(1, s.argmax()[0], "the first of two equal maxima, as torch.argmax");
        double z = Math.exp(1) + 2 * Math.exp(3) + Math.exp(2);
        double entropy = 0;
        for (int j = 0; j < 4; j++) {
            double p = Math.exp(v[j]) / z;
            entropy -= p * Math.log(p);
        }
        assertEquals(entropy, s.entropy()[0], 1e-5);
        assertEquals(2 - Math.log(z), r.logProbs().value()[0], 1e-6);
        assertEquals(-1, s.argmax()[1], "no statistics asked for this row");
        assertEquals(-1 - Math.log(Math.exp(-1) + 3), r.logProbs().value()[1], 1e-6);
        assertEquals(5, s.mean()[2], 1e-6, "statistics without a target");
        assertEquals(Math.log(4), s.entropy()[2], 1e-6);
        assertEquals(0, r.logProbs().value()[2]);
    }

    /** The old DPO fixture: prompt [2,5], chosen and rejected [2,6], sums of response-token log-probs from PyTorch. */
    @Test
    void completionLogProbabilitiesOfTheLlamaFixtureEqualPyTorchs() {
        Path dir = Path.of("testdata/hf/training/dpo");
        try (SafetensorsFile ref = SafetensorsFile.open(dir.resolve("reference.safetensors"))) {
            int[] prompt = DecoderTrainingTest.ints(ref, "prompt");
            for (String model : new String[] {"policy", "ref"}) {
                Path modelDir = model.equals("policy") ? Path.of("testdata/hf/models/llama") : dir.resolve("reference_model");
                ModelConfig config = ModelConfig.read(modelDir.resolve("config.json"));
                try (Checkpoint ckpt = Checkpoint.open(modelDir)) {
                    DecoderTraining m = new DecoderTraining(config, DecoderTraining.loadWeights(ckpt, false, null), Map.of());
                    for (String side : new String[] {"chosen", "rejected"}) {
                        int[] completion = DecoderTrainingTest.ints(ref, side);
                        float[] want = ref.tensor(model + "_" + side + "_logp").toFloatArray();
                        int p = prompt.length / 2;
                        int c = completion.length / 2;
                        int seq = p + c;
                        int[] ids = new int[2 * seq];
                        int[] targets = new int[2 * seq];
                        for (int r = 0; r < 2; r++) {
                            System.arraycopy(prompt, r * p, ids, r * seq, p);
                            System.arraycopy(completion, r * c, ids, r * seq + p, c);
                            for (int t = 0; t < seq; t++) {
                                targets[r * seq + t] = t >= p - 1 && t + 1 < seq ? ids[r * seq + t + 1] : Ops.IGNORE_INDEX;
                            }
                        }
                        float[] lp = m.logProbs(Tape.inference(), ids, 2, seq, targets, null).logProbs().value();
                        for (int r = 0; r < 2; r++) {
                            double sum = 0;
                            for (int t = 0; t < seq; t++) {
                                sum += lp[r * seq + t];
                            }
                            assertEquals(want[r], sum, 1e-4 * Math.abs(want[r]), model + " " + side + " row " + r);
                        }
                    }
                }
            }
        }
    }
}
