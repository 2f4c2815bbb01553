package dev.crucible.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.data.PackedSequence;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.SafetensorsFile;
import dev.crucible.autograd.Parameter;
import dev.crucible.peft.LoraAdapter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Weight decay as the Hugging Face Trainer applies it: not to biases and norm weights. The reference
 * ({@code testdata/hf/training/weight_decay}, made by {@code tools/weight_decay_reference.py}) holds, for every fixture
 * model, the names the Trainer's {@code get_decay_parameter_names} leaves out, and two AdamW steps of full fine-tuning
 * of the qwen2 fixture (q/k/v biases) with weight decay 0.5 through the Trainer's two parameter groups.
 */
class WeightDecayTest {
    static final Path REF = Path.of("testdata/hf/training/weight_decay");
    static final Path MODELS = Path.of("testdata/hf/models");

    @TempDir
    Path tmp;

    @Test
    void theDecayGroupIsTheHfTrainersForEveryFixtureModel() throws IOException {
        JsonNode expected = new ObjectMapper().readTree(REF.resolve("no_decay.json").toFile());
        int models = 0;
        for (var it = expected.properties().iterator(); it.hasNext(); ) {
            var e = it.next();
            Set<String> want = new TreeSet<>();
            e.getValue().forEach(n -> want.add(n.asText()));
            Set<String> got = new TreeSet<>();
            try (Checkpoint c = Checkpoint.open(MODELS.resolve(e.getKey()))) {
                for (String name : c.names()) {
                    if (!AdamW.decayedByHfTrainer(name)) {
                        got.add(name);
                    }
                }
            }
            assertEquals(want, got, e.getKey());
            models++;
        }
        assertEquals(11, models);
        // PEFT's names: LoRA factors and DoRA magnitudes decay, a norm kept whole by modules_to_save does not
        assertTrue(AdamW.decayedByHfTrainer("base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight"));
        assertTrue(AdamW.decayedByHfTrainer("base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector.default.weight"));
        assertTrue(AdamW.decayedByHfTrainer(LoraAdapter.savedTensorParameterName("lm_head.weight")));
        assertFalse(AdamW.decayedByHfTrainer(LoraAdapter.savedTensorParameterName("model.norm.weight")));
    }

    /**
     * Two steps of the trainer's full fine-tuning (own forward and backward) equal torch's AdamW over the Trainer's two
     * parameter groups to float rounding; decaying the norms as well would have moved them 10^4 times further.
     */
    @Test
    void fullFineTuningWithWeightDecayMatchesTheHfTrainer() {
        Trainer.Settings settings = new Trainer.Settings(Trainer.Method.FULL, null,
                new Trainer.Optimizer(1e-2, "constant", 0, 0.5, 0.9, 0.999, 0.1, 0), 2, 1, 12, false, 2, false, 1, 0, 0, 1, 0);
        try (SafetensorsFile ref = SafetensorsFile.open(REF.resolve("reference.safetensors"));
             var trainer = Trainer.sft(MODELS.resolve("qwen2"), settings)) {
            var ids = ref.tensor("input_ids");
            var labels = ref.tensor("labels");
            List<PackedSequence> batch = new ArrayList<>();
            for (int row = 0; row < 2; row++) {
                int[] x = new int[12];
                int[] y = new int[12];
                for (int t = 0; t < 12; t++) {
                    x[t] = (int) ids.getLong(row * 12 + t);
                    y[t] = (int) labels.getLong(row * 12 + t);
                }
                batch.add(PackedSequence.of(x, y));
            }
            trainer.train(batch, List.of(), tmp.resolve("out"), null);
            double worst = 0;
            double worstNoDecayShift = 0;
            int decayed = 0;
            for (Parameter p : trainer.parameters()) {
                float[] want = ref.tensor("after_step2." + p.name()).toFloatArray();
                for (int i = 0; i < want.length; i++) {
                    worst = Math.max(worst, Math.abs(p.data()[i] - want[i]));
                }
                decayed += AdamW.decayedByHfTrainer(p.name()) ? 1 : 0;
                if (!AdamW.decayedByHfTrainer(p.name())) {
                    // what decaying this tensor too would have changed: w · lr · wd per step, twice
                    for (float w : want) {
                        worstNoDecayShift = Math.max(worstNoDecayShift, Math.abs(w) * 1e-2 * 0.5 * 2);
                    }
                }
            }
            assertEquals(trainer.parameters().size() - 16, decayed, "16 biases and norms outside the decay group");
            assertTrue(worst < 1e-6, "largest difference from the Trainer's AdamW: " + worst);
            assertTrue(worstNoDecayShift > 1000 * worst, "decaying norms would have shifted them by up to " + worstNoDecayShift);
            System.out.printf("full fine-tuning with weight decay: max |w - torch| = %.3g (decaying norms too would move them"
                    + " by up to %.3g)%n", worst, worstNoDecayShift);
        }
    }
}
