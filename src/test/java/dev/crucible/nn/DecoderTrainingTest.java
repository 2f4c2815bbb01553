package dev.crucible.nn;

import dev.crucible.autograd.FrozenWeight;
import dev.crucible.autograd.LoraOps;
import dev.crucible.autograd.Ops;
import dev.crucible.autograd.Parameter;
import dev.crucible.autograd.Tape;
import dev.crucible.autograd.Var;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.ModelConfig;
import dev.crucible.io.SafetensorsFile;
import dev.crucible.train.AdamW;
import dev.crucible.peft.LoraAdapter;
import dev.crucible.peft.LoraModule;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The training forward and backward of the Llama fixture against transformers and PEFT (float32 references). */
class DecoderTrainingTest {
    static final Path LLAMA = Path.of("testdata/hf/models/llama");
    static final Path ADAPTERS = Path.of("testdata/hf/adapters");

    static int[] ints(SafetensorsFile f, String name) {
        var t = f.tensor(name);
        int[] out = new int[(int) t.numel()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (int) t.getLong(i);
        }
        return out;
    }

    /** max |a - b| / max |b|, the fixtures' relative error. */
    static double relativeError(float[] got, float[] want) {
        double maxDiff = 0;
        double maxRef = 0;
        for (int i = 0; i < want.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
            maxRef = Math.max(maxRef, Math.abs(want[i]));
        }
        return maxDiff / maxRef;
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "llama3_rope_tied", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3", "mixtral"})
    void trainingForwardReproducesTransformersLogitsForEveryFamily(String arch) {
        Path dir = Path.of("testdata/hf/models").resolve(arch);
        ModelConfig config = ModelConfig.read(dir.resolve("config.json"));
        try (Checkpoint ckpt = Checkpoint.open(dir); SafetensorsFile ref = SafetensorsFile.open(dir.resolve("reference.safetensors"))) {
            DecoderTraining model = new DecoderTraining(config, DecoderTraining.loadWeights(ckpt, false, null), Map.of());
            var idsTensor = ref.tensor("input_ids");
            int batch = (int) idsTensor.dim(0);
            int seq = (int) idsTensor.dim(1);
            DecoderTraining.Output out = model.forward(new Tape(), ints(ref, "input_ids"), batch, seq, null, null);
            double err = relativeError(out.logits().value(), ref.tensor("logits").toFloatArray());
            System.out.println(arch + ": logits relative error " + err);
            assertTrue(err <= 1e-5, arch + ": logits relative error " + err);
        }
    }

    /**
     * Every family's full backward against central differences of the loss, on the largest-gradient element of
     * each of a few parameters (float32 differences, hence the 3% tolerance; the ops are checked tightly elsewhere).
     */
    @ParameterizedTest
    @ValueSource(strings = {"llama3_rope_tied", "qwen2", "qwen3", "gemma", "gemma2", "phi3", "mixtral"})
    void everyFamilysGradientsAgreeWithFiniteDifferences(String arch) {
        Path dir = Path.of("testdata/hf/models").resolve(arch);
        ModelConfig config = ModelConfig.read(dir.resolve("config.json"));
        List<Parameter> params = new ArrayList<>();
        try (Checkpoint ckpt = Checkpoint.open(dir); SafetensorsFile ref = SafetensorsFile.open(dir.resolve("reference.safetensors"))) {
            DecoderTraining model = new DecoderTraining(config, DecoderTraining.loadWeights(ckpt, true, params), Map.of());
            int[] ids = ints(ref, "input_ids");
            int[] labels = ids.clone();
            labels[0] = Ops.IGNORE_INDEX;
            Tape tape = new Tape();
            DecoderTraining.Output out = model.forward(tape, ids, 2, 12, labels, null);
            tape.backward(out.loss());
            int checked = 0;
            for (Parameter p : params) {
                if (!(p.name().contains("layers.1.") || !p.name().contains("layers."))) {
                    continue;
                }
                int best = 0;
                for (int i = 0; i < p.size(); i++) {
                    if (Math.abs(p.grad()[i]) > Math.abs(p.grad()[best])) {
                        best = i;
                    }
                }
                float old = p.data()[best];
                // the loss is a float32 mean of per-token float32 log-probabilities: its rounding (~1e-6) divided by
                // 2·eps is the difference's noise, so eps must not be tiny for the small weights
                float eps = 1e-2f * Math.max(Math.abs(old), 0.1f);
                p.data()[best] = old + eps;
                double plus = model.forward(new Tape(), ids, 2, 12, labels, null).loss().value()[0];
                p.data()[best] = old - eps;
                double minus = model.forward(new Tape(), ids, 2, 12, labels, null).loss().value()[0];
                p.data()[best] = old;
                double numeric = (plus - minus) / (2 * eps);
                assertEquals(numeric, p.grad()[best], 0.03 * Math.abs(numeric) + 1e-4, arch + " " + p.name());
                checked++;
            }
            assertTrue(checked >= 8, arch + ": checked " + checked);
        }
    }

    /**
     * Sample packing: two examples packed into one row (positions restarting, block-diagonal mask) give the same
     * logits at every token, the same summed loss and the same gradients as the two examples run on their own.
     */
    @ParameterizedTest
    @ValueSource(strings = {"llama", "gemma2", "qwen2", "mixtral"})
    void aPackedBatchEqualsItsExamplesRunSeparately(String arch) {
        Path dir = Path.of("testdata/hf/models").resolve(arch);
        ModelConfig config = ModelConfig.read(dir.resolve("config.json"));
        try (Checkpoint ckpt = Checkpoint.open(dir); SafetensorsFile ref = SafetensorsFile.open(dir.resolve("reference.safetensors"))) {
            int[] all = ints(ref, "input_ids");
            int[] a = java.util.Arrays.copyOfRange(all, 0, 7);
            int[] b = java.util.Arrays.copyOfRange(all, 12, 17);
            int[] labelsB = b.clone();
            labelsB[1] = Ops.IGNORE_INDEX; // a masked prompt token inside the second example
            List<Parameter> params = new ArrayList<>();
            DecoderTraining model = new DecoderTraining(config, DecoderTraining.loadWeights(ckpt, true, params), Map.of());
            int vocab = config.vocabSize();

            Tape tape = new Tape();
            DecoderTraining.Output outA = model.forward(tape, a, 1, a.length, a, null);
            tape.backward(outA.loss(), outA.lossTokens());
            tape = new Tape();
            DecoderTraining.Output outB = model.forward(tape, b, 1, b.length, labelsB, null);
            tape.backward(outB.loss(), outB.lossTokens());
            double separateLoss = outA.loss().value()[0] * outA.lossTokens() + outB.loss().value()[0] * outB.lossTokens();
            List<float[]> separate = params.stream().map(p -> p.grad().clone()).toList();
            params.forEach(Parameter::zeroGrad);

            int n = a.length + b.length;
            int[] ids = new int[n];
            int[] labels = new int[n];
            int[] positions = new int[n];
            int[] sequences = new int[n];
            System.arraycopy(a, 0, ids, 0, a.length);
            System.arraycopy(b, 0, ids, a.length, b.length);
            System.arraycopy(a, 0, labels, 0, a.length);
            System.arraycopy(labelsB, 0, labels, a.length, b.length);
            for (int t = 0; t < n; t++) {
                positions[t] = t < a.length ? t : t - a.length;
                sequences[t] = t < a.length ? 0 : 1;
            }
            tape = new Tape();
            DecoderTraining.Output packed = model.forward(tape, ids, 1, n, labels, positions, sequences, null);
            assertEquals(outA.lossTokens() + outB.lossTokens(), packed.lossTokens(), "no loss across the boundary");
            assertEquals(separateLoss, packed.loss().value()[0] * packed.lossTokens(), 1e-4 * separateLoss, arch);
            float[] logits = model.forward(Tape.inference(), ids, 1, n, null, positions, sequences, null).logits().value();
            float[] joined = new float[n * vocab];
            System.arraycopy(model.forward(Tape.inference(), a, 1, a.length, null, null).logits().value(), 0, joined, 0,
                    a.length * vocab);
            System.arraycopy(model.forward(Tape.inference(), b, 1, b.length, null, null).logits().value(), 0, joined,
                    a.length * vocab, b.length * vocab);
            assertTrue(relativeError(logits, joined) < 1e-5, arch + " logits: " + relativeError(logits, joined));
            tape.backward(packed.loss(), packed.lossTokens());
            for (int i = 0; i < params.size(); i++) {
                double err = relativeError(params.get(i).grad(), separate.get(i));
                assertTrue(err < 1e-4, arch + " " + params.get(i).name() + ": " + err);
            }
        }
    }

    @Test
    void gradientCheckpointingGivesIdenticalGradients() {
        Path dir = Path.of("testdata/hf/models/gemma2");
        ModelConfig config = ModelConfig.read(dir.resolve("config.json"));
        try (Checkpoint ckpt = Checkpoint.open(dir); SafetensorsFile ref = SafetensorsFile.open(dir.resolve("reference.safetensors"))) {
            int[] ids = ints(ref, "input_ids");
            List<float[]> grads = new ArrayList<>();
            for (boolean checkpointing : new boolean[]{false, true}) {
                List<Parameter> params = new ArrayList<>();
                DecoderTraining model = new DecoderTraining(config, DecoderTraining.loadWeights(ckpt, true, params), Map.of())
                        .gradientCheckpointing(checkpointing);
                Tape tape = new Tape();
                tape.backward(model.forward(tape, ids, 2, 12, ids, null).loss());
                params.forEach(p -> grads.add(p.grad()));
            }
            int half = grads.size() / 2;
            for (int i = 0; i < half; i++) {
                org.junit.jupiter.api.Assertions.assertArrayEquals(grads.get(i), grads.get(half + i));
            }
        }
        // LoRA with dropout: the recomputation must draw the same masks
        ModelConfig llama = ModelConfig.read(LLAMA.resolve("config.json"));
        LoraAdapter adapter = LoraAdapter.load(ADAPTERS.resolve("lora"));
        try (Checkpoint ckpt = Checkpoint.open(LLAMA);
             SafetensorsFile ref = SafetensorsFile.open(ADAPTERS.resolve("lora").resolve("reference.safetensors"))) {
            Map<String, Var> base = DecoderTraining.loadWeights(ckpt, false, null);
            List<List<Parameter>> runs = new ArrayList<>();
            for (boolean checkpointing : new boolean[]{false, true}) {
                List<Parameter> params = new ArrayList<>();
                Map<String, LoraOps.Adapter> vars = new LinkedHashMap<>();
                adapterVars(adapter, params).forEach((k, v) -> vars.put(k, new LoraOps.Adapter(v.a(), v.b(), v.magnitude(), v.scaling(), 0.1)));
                DecoderTraining model = new DecoderTraining(llama, base, vars).gradientCheckpointing(checkpointing);
                Tape tape = new Tape();
                tape.backward(model.forward(tape, ints(ref, "input_ids"), 2, 12, ints(ref, "labels"),
                        new java.util.SplittableRandom(3)).loss());
                runs.add(params);
            }
            for (int i = 0; i < runs.get(0).size(); i++) {
                org.junit.jupiter.api.Assertions.assertArrayEquals(runs.get(0).get(i).grad(), runs.get(1).get(i).grad(),
                        runs.get(0).get(i).name());
            }
        }
    }

    @Test
    void fullFineTuningLossAndEveryGradientMatchTransformers() {
        ModelConfig config = ModelConfig.read(LLAMA.resolve("config.json"));
        List<Parameter> params = new ArrayList<>();
        try (Checkpoint ckpt = Checkpoint.open(LLAMA);
             SafetensorsFile ref = SafetensorsFile.open(Path.of("testdata/hf/training/full_step/reference.safetensors"))) {
            DecoderTraining model = new DecoderTraining(config, DecoderTraining.loadWeights(ckpt, true, params), Map.of());
            int[] ids = ints(ref, "input_ids");
            int[] labels = ints(ref, "labels");
            Tape tape = new Tape();
            DecoderTraining.Output out = model.forward(tape, ids, 2, 12, labels, null);
            assertEquals(ref.tensor("loss").getFloat(0), out.loss().value()[0], 1e-5 * ref.tensor("loss").getFloat(0));
            assertEquals(2 * (12 - 4), out.lossTokens());
            tape.backward(out.loss());
            assertEquals(30, params.size());
            double worst = 0;
            for (Parameter p : params) {
                double err = relativeError(p.grad(), ref.tensor("grad." + p.name()).toFloatArray());
                worst = Math.max(worst, err);
                assertTrue(err <= 1e-4, p.name() + ": relative error " + err);
            }
            System.out.println("full: loss " + out.loss().value()[0] + ", worst gradient relative error " + worst);
        }
    }

    /** The fixture adapter's tensors as fresh trainable parameters (PEFT's in-memory names) and tape adapters. */
    static Map<String, LoraOps.Adapter> adapterVars(LoraAdapter adapter, List<Parameter> params) {
        Map<String, LoraOps.Adapter> adapters = new LinkedHashMap<>();
        for (LoraModule m : adapter.modules().values()) {
            Parameter a = new Parameter(LoraAdapter.parameterName(m.path(), LoraAdapter.Part.A), m.a().clone(), m.r(), m.in());
            Parameter b = new Parameter(LoraAdapter.parameterName(m.path(), LoraAdapter.Part.B), m.b().clone(), m.out(), m.r());
            params.add(a);
            params.add(b);
            Var magnitude = null;
            if (m.isDora()) {
                Parameter mag = new Parameter(LoraAdapter.parameterName(m.path(), LoraAdapter.Part.MAGNITUDE),
                        m.magnitude().clone(), m.out());
                params.add(mag);
                magnitude = Var.of(mag);
            }
            adapters.put(m.path(), new LoraOps.Adapter(Var.of(a), Var.of(b), magnitude, m.scaling(), 0));
        }
        return adapters;
    }

    @ParameterizedTest
    @ValueSource(strings = {"lora", "dora"})
    void qloraOnAnNf4BaseEqualsTheAdapterOnTheDequantisedBase(String kind) {
        ModelConfig config = ModelConfig.read(LLAMA.resolve("config.json"));
        LoraAdapter adapter = LoraAdapter.load(ADAPTERS.resolve(kind));
        try (Checkpoint ckpt = Checkpoint.open(LLAMA);
             SafetensorsFile ref = SafetensorsFile.open(ADAPTERS.resolve(kind).resolve("reference.safetensors"))) {
            Map<String, FrozenWeight> nf4 = DecoderTraining.quantizeLayerLinears(ckpt);
            assertEquals(21, nf4.size());
            java.util.Set<String> linearNames = new java.util.HashSet<>();
            nf4.keySet().forEach(m -> linearNames.add(m + ".weight"));
            Map<String, Var> rest = DecoderTraining.loadWeights(ckpt, false, null, linearNames);
            assertEquals(30 - 21, rest.size(), "the float copies of quantised weights are not loaded");
            long nf4Bytes = 0;
            long bf16Bytes = 0;
            Map<String, Var> dequantised = new LinkedHashMap<>(rest);
            for (Map.Entry<String, FrozenWeight> e : nf4.entrySet()) {
                var w = ((FrozenWeight.Nf4) e.getValue()).w();
                nf4Bytes += w.byteSize();
                bf16Bytes += ckpt.info(e.getKey() + ".weight").byteSize();
                dequantised.put(e.getKey() + ".weight", Var.constant(w.dequantize(), w.rows(), w.cols()));
            }
            double ratio = (double) nf4Bytes / bf16Bytes;
            assertTrue(ratio > 0.25 && ratio < 0.26, "NF4 base / bf16 base bytes = " + ratio);

            List<Parameter> qParams = new ArrayList<>();
            DecoderTraining qlora = new DecoderTraining(config, rest, nf4, adapterVars(adapter, qParams));
            List<Parameter> dParams = new ArrayList<>();
            DecoderTraining dense = new DecoderTraining(config, dequantised, adapterVars(adapter, dParams));
            int[] ids = ints(ref, "input_ids");
            int[] labels = ints(ref, "labels");
            Tape qTape = new Tape();
            DecoderTraining.Output q = qlora.forward(qTape, ids, 2, 12, labels, null);
            Tape dTape = new Tape();
            DecoderTraining.Output d = dense.forward(dTape, ids, 2, 12, labels, null);
            assertTrue(relativeError(qlora.forward(Tape.inference(), ids, 2, 12, null, null).logits().value(),
                    dense.forward(Tape.inference(), ids, 2, 12, null, null).logits().value()) <= 1e-5);
            qTape.backward(q.loss());
            dTape.backward(d.loss());
            for (int i = 0; i < qParams.size(); i++) {
                double err = relativeError(qParams.get(i).grad(), dParams.get(i).grad());
                assertTrue(err <= 1e-4, qParams.get(i).name() + ": " + err);
            }
            float exactLoss = ref.tensor("loss").getFloat(0);
            double drift = Math.abs(q.loss().value()[0] - exactLoss) / exactLoss;
            assertTrue(drift < 0.05, "NF4 base moves the loss by " + drift);
            System.out.println(kind + " QLoRA: loss " + q.loss().value()[0] + " vs " + exactLoss + " unquantised; NF4/bf16 bytes " + ratio);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"lora", "rslora", "dora"})
    void adapterLogitsLossGradientsAndStepMatchPeft(String kind) {
        ModelConfig config = ModelConfig.read(LLAMA.resolve("config.json"));
        LoraAdapter adapter = LoraAdapter.load(ADAPTERS.resolve(kind));
        List<Parameter> params = new ArrayList<>();
        Map<String, LoraOps.Adapter> adapters = adapterVars(adapter, params);
        try (Checkpoint ckpt = Checkpoint.open(LLAMA);
             SafetensorsFile ref = SafetensorsFile.open(ADAPTERS.resolve(kind).resolve("reference.safetensors"))) {
            DecoderTraining model = new DecoderTraining(config, DecoderTraining.loadWeights(ckpt, false, null), adapters);
            Tape tape = new Tape();
            DecoderTraining.Output out = model.forward(tape, ints(ref, "input_ids"), 2, 12, ints(ref, "labels"), null);
            double logitsErr = relativeError(model.forward(Tape.inference(), ints(ref, "input_ids"), 2, 12, null, null)
                    .logits().value(), ref.tensor("logits").toFloatArray());
            assertTrue(logitsErr <= 1e-5, "logits relative error " + logitsErr);
            float loss = ref.tensor("loss").getFloat(0);
            assertEquals(loss, out.loss().value()[0], 1e-5 * loss);
            tape.backward(out.loss());
            double worst = 0;
            for (Parameter p : params) {
                double err = relativeError(p.grad(), ref.tensor("grad." + p.name()).toFloatArray());
                worst = Math.max(worst, err);
                assertTrue(err <= 1e-4, p.name() + ": relative error " + err);
            }
            new AdamW(0.9, 0.999, 1e-8, 0.01).step(params, 1e-3);
            double worstStep = 0;
            for (Parameter p : params) {
                worstStep = Math.max(worstStep, relativeError(p.data(), ref.tensor("after_adamw." + p.name()).toFloatArray()));
            }
            assertTrue(worstStep <= 1e-5, "after one AdamW step from our own gradients: " + worstStep);
            System.out.println(kind + ": logits " + logitsErr + ", worst gradient " + worst + ", after AdamW " + worstStep);
        }
    }
}
