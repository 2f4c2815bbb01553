package dev.crucible.train;

import dev.crucible.io.Checkpoint;
import dev.crucible.io.ModelDirectory;
import dev.crucible.nn.LinearLayers;
import dev.crucible.autograd.Parameter;
import dev.crucible.tensor.Nf4Weight;
import dev.crucible.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link MemoryPlan}'s arithmetic against the real thing: the parameters, gradients and frozen bytes of a real
 * {@link Trainer} built on the fixtures, the NF4 arrays of the real tensors quantised, and the activations a
 * checkpointed forward keeps, from the models' own shapes. (Whole-process figures against measured peak RSS:
 * tools/plan_rss.sh, docs/BENCHMARKS.md.)
 */
class MemoryPlanTest {
    static final Path UNTIED = Path.of("testdata/hf/models/llama");
    static final Path TIED = Path.of("testdata/hf/models/llama3_rope_tied");

    private static Trainer.Settings settings(Trainer.Method method, boolean checkpointing) {
        return new Trainer.Settings(method, method == Trainer.Method.FULL ? null
                : new Trainer.Lora(8, 16, 0, List.of("all-linear"), false),
                Trainer.Optimizer.of(1e-3, "constant", 0, 0, 1), 2, 1, 16, true, 1, checkpointing, 0, 0, 0, 1, 0);
    }

    @ParameterizedTest
    @EnumSource(Trainer.Method.class)
    void weightsGradientsAndAdamWStateAreTheTrainersOwn(Trainer.Method method) {
        for (Path dir : List.of(UNTIED, TIED)) {
            ModelDirectory base = ModelDirectory.open(dir);
            Trainer.Settings s = settings(method, false);
            MemoryPlan.Estimate e = MemoryPlan.estimate(MemoryPlan.Model.of(base), MemoryPlan.Run.of(s, null, 2, 16, 1));
            try (var trainer = Trainer.sft(base, s)) {
                long trainable = trainer.parameters().stream().mapToLong(Parameter::size).sum();
                String what = method + " on " + dir;
                assertEquals(trainable, e.trainableParameters(), what);
                assertEquals(4 * trainable, e.gradients(), what);
                assertEquals(8 * trainable, e.optimizer(), what + ": AdamW's two float32 moments");
                // the frozen float32 and NF4 bytes the trainer counts, and the trainable values
                assertEquals(trainer.frozenBaseBytes() + 4 * trainable, e.weights() + e.nf4(), what);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = Trainer.Method.class, names = {"QLORA", "QDORA"})
    void theNf4BaseIsTheQuantisedDecoderLinears(Trainer.Method method) {
        ModelDirectory base = ModelDirectory.open(UNTIED);
        long nf4 = 0;
        long linearWeights = 0;
        try (Checkpoint c = base.openCheckpoint()) {
            for (String m : LinearLayers.inDecoderLayers(c)) {
                Tensor t = c.tensor(m + ".weight");
                float[] values = new float[(int) t.numel()];
                for (int i = 0; i < values.length; i++) {
                    values[i] = t.getFloat(i);
                }
                nf4 += Nf4Weight.quantize(values, (int) t.dim(0), (int) t.dim(1), true).byteSize();
                linearWeights += t.numel();
            }
        }
        MemoryPlan.Estimate e = MemoryPlan.estimate(MemoryPlan.Model.of(base),
                MemoryPlan.Run.of(settings(method, false), null, 2, 16, 1));
        assertEquals(nf4, e.nf4());
        // about 0.52 bytes a weight: 4-bit codes, an 8-bit scale per 64 and a float32 per 256 scales
        assertEquals(0.5 + 1.0 / 64 + 4.0 / (64 * 256), (double) nf4 / linearWeights, 0.01);
    }

    @Test
    void aCheckpointedForwardKeepsEachLayersInputTheFinalNormAndNoLogits() {
        for (Path dir : List.of(UNTIED, TIED)) {
            MemoryPlan.Model model = MemoryPlan.Model.of(ModelDirectory.open(dir));
            var c = model.config();
            int rows = 3;
            int seq = 20;
            long n = (long) rows * seq;
            MemoryPlan.Estimate e = MemoryPlan.estimate(model,
                    MemoryPlan.Run.of(settings(Trainer.Method.FULL, true), null, rows, seq, 1));
            // the embedding's output and each layer's output [n, hidden]; the final norm's output, with its inverse
            // norms [n] and gain [hidden]; no logits, only the head's log-sum-exp and log-probabilities [n]; the loss
            long floats = n * c.hiddenSize() * (c.numHiddenLayers() + 2) + n + c.hiddenSize() + n + n + 1;
            assertEquals(4 * floats, e.activations(), dir.toString());
            MemoryPlan.Estimate kept = MemoryPlan.estimate(model,
                    MemoryPlan.Run.of(settings(Trainer.Method.FULL, false), null, rows, seq, 1));
            assertTrue(kept.activations() > 3 * e.activations(), "without checkpointing every layer's inside is kept");
        }
    }

    @Test
    void pairsDoubleTheActivationsAndFullPreferenceTrainingCopiesTheWeights() {
        MemoryPlan.Model model = MemoryPlan.Model.of(ModelDirectory.open(UNTIED));
        Trainer.Settings s = settings(Trainer.Method.FULL, true);
        MemoryPlan.Estimate sft = MemoryPlan.estimate(model, MemoryPlan.Run.of(s, null, 2, 16, 1));
        PreferenceObjective.Config dpo = new PreferenceObjective.Config(PreferenceMethod.parse("dpo"),
                new PreferenceLoss.Params(0.1, 0, 0.5, 1.0, 1, 1, 0), false);
        MemoryPlan.Estimate pairs = MemoryPlan.estimate(model, MemoryPlan.Run.of(s, dpo, 4, 16, 1));
        assertEquals(sft.weights(), pairs.reference());
        int hidden = model.config().hiddenSize();
        assertEquals(2 * sft.activations() - 4 * (1 + hidden), pairs.activations(),
                "chosen and rejected rows; one scalar loss and one final-norm gain");
        MemoryPlan.Estimate lora = MemoryPlan.estimate(model,
                MemoryPlan.Run.of(settings(Trainer.Method.LORA, true), dpo, 4, 16, 1));
        assertEquals(0, lora.reference(), "LoRA's reference is the base with the adapter off");
    }
}
