package dev.crucible.train;

import dev.crucible.data.PreferenceExample;
import dev.crucible.data.DatasetSpec;
import dev.crucible.data.DatasetType;
import dev.crucible.data.PreferenceDataset;
import dev.crucible.data.PreferenceFixture;
import dev.crucible.data.PreferenceTokenizer;
import dev.crucible.io.ModelDirectory;
import dev.crucible.io.SafetensorsFile;
import dev.crucible.model.Tokenizer;
import dev.crucible.autograd.Parameter;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The gradient of one DPO step (sigmoid loss, beta 0.1, max_length 36, the four standard rows in one micro-batch)
 * equals the gradient TRL 1.13's DPOTrainer computes for its first step, for every trainable parameter: full
 * fine-tuning (every weight) and LoRA from the fixture's starting adapter, whose frozen copy is the reference
 * ({@code testdata/hf/training/preference/gradients.safetensors}). The same with Axolotl's {@code rpo_alpha} 0.5,
 * against TRL's {@code loss_type [sigmoid, sft]}, {@code loss_weights [1, 0.5]} ({@code rpo_gradients.safetensors}).
 */
class PreferenceGradientTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"full", "lora"})
    void oneDpoStepHasTrlsGradients(String kind) {
        oneStepHasTrlsGradients(kind, "gradients.safetensors", 0);
    }

    @ParameterizedTest
    @ValueSource(strings = {"full", "lora"})
    void oneRpoStepHasTrlsGradients(String kind) {
        oneStepHasTrlsGradients(kind, "rpo_gradients.safetensors", 0.5);
    }

    private void oneStepHasTrlsGradients(String kind, String fixture, double rpoAlpha) {
        ModelDirectory model = ModelDirectory.open(PreferenceFixture.modelDir(tmp.resolve("model")));
        List<PreferenceExample> pairs;
        try (Tokenizer tokenizer = Tokenizer.load(model.path())) {
            pairs = PreferenceDataset.load(new PreferenceDataset.Config(List.of(new DatasetSpec(
                    PreferenceFixture.DATA.resolve("standard.jsonl"), DatasetType.PREFERENCE, null)), null,
                    PreferenceTokenizer.Style.TRL, 36, 0, false, 0, 1), model, tokenizer).train();
        }
        boolean lora = kind.equals("lora");
        Trainer.Settings settings = new Trainer.Settings(lora ? Trainer.Method.LORA : Trainer.Method.FULL,
                lora ? new Trainer.Lora(4, 8, 0, List.of("all-linear"), false, false, List.of(), PreferenceFixture.ADAPTER)
                        : null, Trainer.Optimizer.of(1e-3, "cosine", 0, 0, 1.0), pairs.size(), 1, 36, false, 3, false, 42,
                0, 0, 1, 0);
        PreferenceObjective.Config dpo = new PreferenceObjective.Config(PreferenceMethod.DPO,
                new PreferenceLoss.Params(0.1, 0, 0.5, 1, 1, 1, rpoAlpha), false);
        try (var trainer = Trainer.preference(model, settings, dpo);
             SafetensorsFile ref = SafetensorsFile.open(PreferenceFixture.DIR.resolve(fixture))) {
            Objective.MicroBatch step = trainer.objective().train(pairs, new int[] {0, 1, 2, 3}, null);
            double trlLoss = ref.tensor("loss." + kind).toFloatArray()[0];
            assertEquals(trlLoss, step.loss(), 1e-6, "ln 2 at the reference, plus α times the chosen cross entropy");
            int compared = 0;
            double worst = 0;
            for (Parameter p : trainer.parameters()) {
                String name = "grad." + kind + "." + p.name().replace(".default.", ".");
                assertTrue(ref.contains(name), "TRL has a gradient for " + name);
                float[] want = ref.tensor(name).toFloatArray();
                double maxRef = 0;
                double maxDiff = 0;
                for (int i = 0; i < want.length; i++) {
                    maxRef = Math.max(maxRef, Math.abs(want[i]));
                    maxDiff = Math.max(maxDiff, Math.abs(p.grad()[i] - want[i]));
                }
                double rel = maxDiff / maxRef;
                worst = Math.max(worst, rel);
                assertTrue(rel <= 1e-4, name + ": relative error " + rel);
                compared++;
            }
            assertEquals(lora ? 42 : 30, compared, "every trainable parameter");
            System.out.printf("%s (rpo_alpha %s): loss %.8f vs TRL %.8f, %d gradients, largest relative error %.2e%n", kind, rpoAlpha,
                    step.loss(), trlLoss, compared, worst);
        }
    }
}
