package dev.crucible.nn;

import dev.crucible.autograd.LogProbs;
import dev.crucible.autograd.Ops;
import dev.crucible.autograd.Tape;
import dev.crucible.autograd.Var;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.ModelConfig;
import dev.crucible.io.SafetensorsFile;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Per-token log-probabilities: their backward against finite differences, their statistics against direct sums,
 * and summed completion log-probabilities of the Llama fixture against PyTorch ({@code testdata/hf/training/dpo}).
 */
class LogProbsTest {

    @Test
    void backwardEqualsFiniteDifferences() {
        Var logits = Var.leaf(OpsGradientTest.random(5 * 37, 1, 2), 5, 37);
        int[] targets = {3, Ops.IGNORE_INDEX, 36, 0, 17};
        OpsGradientTest.check("logprobs", List.of(logits), List.of(logits), t -> LogProbs.of(t, logits, targets), 2e-3);
        Var x = Var.leaf(OpsGradientTest.random(6, 2, 1), 6);
        float[] w = OpsGradientTest.random(6, 3, 1);
        OpsGradientTest.check("weighted sum", List.of(x), List.of(x), t -> LogProbs.weightedSum(t, x, w), 1e-3);
    }

    @Test
    void statisticsAreTheVocabularyMeanEntropyAndArgmax() {
        float[] v = {1, 3, 2, 3, -1, 0, 0, 0};
        LogProbs.RowStatistics s = LogProbs.statistics(Var.constant(v, 2, 4), new boolean[] {true, false});
        assertEquals(2.25, s.mean()[0], 1e-6);
        assertEquals(-0.25, s.mean()[1], 1e-6);
        assertEquals(1, s.argmax()[0], "the first of two equal maxima, as torch.argmax");
        double z = Math.exp(1) + 2 * Math.exp(3) + Math.exp(2);
        double entropy = 0;
        for (int j = 0; j < 4; j++) {
            double p = Math.exp(v[j]) / z;
            entropy -= p * Math.log(p);
        }
        assertEquals(entropy, s.entropy()[0], 1e-5);
        assertEquals(-1, s.argmax()[1]);
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
                        Var logits = m.forward(new Tape(), ids, 2, seq, null, null).logits();
                        float[] lp = LogProbs.of(new Tape(), logits, targets).value();
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
