package dev.crucible.model;

import dev.crucible.arch.Architecture;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.ModelConfig;
import dev.crucible.io.SafetensorsFile;
import dev.crucible.nn.DecoderTraining;
import dev.crucible.nn.LayerAttention;
import dev.crucible.autograd.Parameter;
import dev.crucible.autograd.Tape;
import dev.crucible.nn.TransformerSpec;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static dev.crucible.model.TransformerFidelityTest.MODELS;
import static dev.crucible.model.TransformerFidelityTest.TOLERANCE;
import static dev.crucible.model.TransformerFidelityTest.ids;
import static dev.crucible.model.TransformerFidelityTest.relativeError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Qwen2 with {@code use_sliding_window} and {@code max_window_layers} 2 of 4 (window 4, 12 tokens; fixture from
 * tools/sliding_window_fixtures.py, config.json without {@code layer_types} as on the Hub): only layers 2 and 3
 * slide. The runtime and the training forward both follow transformers, through the one {@link LayerAttention}.
 */
class SlidingWindowFidelityTest {
    private static final Path DIR = MODELS.resolve("qwen2_sliding");

    @Test
    void onlyTheLayersFromMaxWindowLayersOnSlide() {
        ModelConfig config = ModelConfig.read(DIR.resolve("config.json"));
        assertArrayEquals(new int[] {0, 0, 4, 4}, TransformerSpec.of(config).slidingWindows());
        assertArrayEquals(new int[] {0, 0, 4, 4},
                LayerAttention.of(config, Architecture.of(config).features()).windows());
    }

    @Test
    void runtimeLogitsMatchTransformers() {
        try (SafetensorsFile ref = SafetensorsFile.open(DIR.resolve("reference.safetensors"));
             Transformer t = Transformer.load(DIR)) {
            int[][] input = ids(ref.tensor("input_ids"));
            float[] logits = t.forward(input, t.newCache(2, input[0].length), Transformer.Logits.ALL, null);
            double err = relativeError(logits, ref.tensor("logits").toFloatArray());
            double allSliding = relativeError(ref.tensor("logits_all_sliding").toFloatArray(),
                    ref.tensor("logits").toFloatArray());
            System.out.println("qwen2_sliding runtime logits relative error " + err
                    + " (every layer sliding would be " + allSliding + ")");
            assertTrue(err < TOLERANCE, "runtime logits relative error " + err);
        }
    }

    @Test
    void trainingLossAndGradientsMatchTransformers() {
        ModelConfig config = ModelConfig.read(DIR.resolve("config.json"));
        List<Parameter> params = new ArrayList<>();
        try (Checkpoint ckpt = Checkpoint.open(DIR);
             SafetensorsFile ref = SafetensorsFile.open(DIR.resolve("reference.safetensors"))) {
            DecoderTraining model = new DecoderTraining(config, DecoderTraining.loadWeights(ckpt, true, params), Map.of());
            int[][] input = ids(ref.tensor("input_ids"));
            int[][] labelRows = ids(ref.tensor("labels"));
            int batch = input.length;
            int seq = input[0].length;
            int[] flatIds = Arrays.stream(input).flatMapToInt(Arrays::stream).toArray();
            int[] labels = Arrays.stream(labelRows).flatMapToInt(Arrays::stream).toArray();
            Tape tape = new Tape();
            DecoderTraining.Output out = model.forward(tape, flatIds, batch, seq, labels, null);
            double logitsErr = relativeError(model.forward(Tape.inference(), flatIds, batch, seq, null, null).logits().value(),
                    ref.tensor("logits").toFloatArray());
            assertTrue(logitsErr < TOLERANCE, "training logits relative error " + logitsErr);
            double wantLoss = ref.tensor("loss").toFloatArray()[0];
            assertEquals(wantLoss, out.loss().value()[0], 1e-5 * wantLoss, "loss");
            tape.backward(out.loss());
            double worst = 0;
            for (Parameter p : params) {
                double err = relativeError(p.grad(), ref.tensor("grad." + p.name()).toFloatArray());
                worst = Math.max(worst, err);
                assertTrue(err < 1e-4, p.name() + ": gradient relative error " + err);
            }
            assertEquals(ref.tensors().keySet().stream().filter(n -> n.startsWith("grad.")).count(), params.size(),
                    "a gradient for every parameter");
            System.out.println("qwen2_sliding training: loss " + out.loss().value()[0] + " vs " + wantLoss
                    + ", logits error " + logitsErr + ", worst gradient relative error " + worst);
        }
    }
}
