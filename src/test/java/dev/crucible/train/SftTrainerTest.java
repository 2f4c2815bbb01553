package dev.crucible.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.io.Checkpoint;
import dev.crucible.nn.Parameter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SftTrainerTest {
    static final Path BASE = Path.of("testdata/hf/models/llama");

    @TempDir
    Path tmp;

    /** Arithmetic token sequences (start a, stride d): learnable, with the first two tokens as an unlabelled prompt. */
    static List<SftTrainer.Example> data(int count, long seed) {
        Random r = new Random(seed);
        List<SftTrainer.Example> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int len = 10 + r.nextInt(8);
            int a = r.nextInt(512);
            int d = 1 + r.nextInt(3);
            int[] ids = new int[len];
            int[] labels = new int[len];
            for (int t = 0; t < len; t++) {
                ids[t] = (a + t * d) % 512;
                labels[t] = t < 2 ? -100 : ids[t];
            }
            out.add(new SftTrainer.Example(ids, labels));
        }
        return out;
    }

    static SftTrainer.Settings settings(SftTrainer.Method method, int steps, int saveSteps, double dropout) {
        double lr = method == SftTrainer.Method.FULL ? 5e-3 : 3e-2;
        return new SftTrainer.Settings(method, 8, 16, dropout, List.of("all-linear"), false, 4, 2, 16, steps, lr,
                "cosine", 2, 0.01, 1.0, false, 7, saveSteps, 0);
    }

    @ParameterizedTest
    @EnumSource(SftTrainer.Method.class)
    void trainingLowersTheValidationLossAndWritesTheModel(SftTrainer.Method method) throws IOException {
        List<SftTrainer.Example> train = data(32, 1);
        List<SftTrainer.Example> val = data(8, 2);
        Path out = tmp.resolve(method.name());
        try (SftTrainer trainer = new SftTrainer(BASE, settings(method, 8, 0, 0.05))) {
            double before = trainer.evaluate(val);
            List<SftTrainer.StepMetrics> steps = new ArrayList<>();
            trainer.train(train, val, out, steps::add);
            double after = steps.get(steps.size() - 1).evalLoss();
            assertTrue(after < before - 0.05, method + ": validation loss " + before + " -> " + after);
            assertEquals(8, steps.size());
            assertTrue(steps.get(5).tokens() > 0 && steps.get(5).gradNorm() > 0);
            System.out.println(method + ": validation loss " + before + " -> " + after + ", frozen base bytes "
                    + trainer.frozenBaseBytes());
        }
        assertEquals(8, Files.readAllLines(out.resolve("metrics.jsonl")).size());
        assertTrue(new ObjectMapper().readTree(Files.readAllLines(out.resolve("metrics.jsonl")).get(7)).has("eval_loss"));
        assertTrue(Files.readString(out.resolve("loss.html")).contains("<polyline"));
        if (method == SftTrainer.Method.FULL) {
            try (Checkpoint c = Checkpoint.open(out)) {
                assertEquals(30, c.names().size());
            }
            assertTrue(Files.isRegularFile(out.resolve("config.json")));
        } else {
            LoraAdapter adapter = LoraAdapter.load(out);
            assertEquals(21, adapter.modules().size());
            assertEquals(method == SftTrainer.Method.DORA, adapter.config().useDora());
            assertTrue(adapter.config().json().get("base_model_name_or_path").asText().endsWith("llama"));
        }
    }

    @Test
    void qloraHoldsTheBaseInLessMemoryThanLora() {
        try (SftTrainer lora = new SftTrainer(BASE, settings(SftTrainer.Method.LORA, 1, 0, 0));
             SftTrainer qlora = new SftTrainer(BASE, settings(SftTrainer.Method.QLORA, 1, 0, 0))) {
            // the 21 linear layers' weights: 3 layers of q, o [64, 64], k, v [32, 64], gate, up [176, 64], down [64, 176]
            long linearWeights = 3L * (2 * 64 * 64 + 2 * 32 * 64 + 3 * 176 * 64);
            long nf4Bytes = qlora.frozenBaseBytes() - (lora.frozenBaseBytes() - 4 * linearWeights);
            double vsBf16 = nf4Bytes / (2.0 * linearWeights);
            assertTrue(vsBf16 > 0.25 && vsBf16 < 0.27, "NF4 base / bf16 base = " + vsBf16);
        }
    }

    @Test
    void resumingFromACheckpointContinuesTheSameCurve() throws IOException {
        List<SftTrainer.Example> train = data(20, 3);
        List<SftTrainer.StepMetrics> straight = new ArrayList<>();
        float[][] finalStraight;
        try (SftTrainer t = new SftTrainer(BASE, settings(SftTrainer.Method.LORA, 4, 2, 0.1))) {
            t.train(train, List.of(), tmp.resolve("a"), straight::add);
            finalStraight = t.parameters().stream().map(p -> p.data().clone()).toArray(float[][]::new);
        }
        assertTrue(Files.isRegularFile(tmp.resolve("a/checkpoint-2/adapter_model.safetensors")));
        List<SftTrainer.StepMetrics> resumed = new ArrayList<>();
        try (SftTrainer t = new SftTrainer(BASE, settings(SftTrainer.Method.LORA, 4, 2, 0.1))) {
            t.resume(tmp.resolve("a/checkpoint-2"));
            assertEquals(2, t.step());
            t.train(train, List.of(), tmp.resolve("b"), resumed::add);
            List<Parameter> params = t.parameters();
            for (int i = 0; i < params.size(); i++) {
                assertArrayEquals(finalStraight[i], params.get(i).data(), params.get(i).name());
            }
        }
        assertEquals(2, resumed.size());
        for (int i = 0; i < 2; i++) {
            assertEquals(straight.get(2 + i).step(), resumed.get(i).step());
            assertEquals(straight.get(2 + i).loss(), resumed.get(i).loss(), 0.0, "step " + resumed.get(i).step());
        }
    }
}
