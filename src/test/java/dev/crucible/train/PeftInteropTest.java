package dev.crucible.train;

import dev.crucible.io.Checkpoint;
import dev.crucible.io.ModelConfig;
import dev.crucible.io.SafetensorsFile;
import dev.crucible.nn.DecoderTraining;
import dev.crucible.autograd.LoraOps;
import dev.crucible.autograd.Tape;
import dev.crucible.autograd.Var;
import dev.crucible.peft.LoraAdapter;
import dev.crucible.peft.LoraConfig;
import dev.crucible.peft.LoraModule;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * PEFT itself loads adapters Crucible wrote ({@code PeftModel.from_pretrained}) and computes the same logits as
 * Crucible. Runs where a Python with torch, transformers and peft is available ({@code CRUCIBLE_PYTHON}, else
 * {@code python3}); skipped otherwise.
 */
class PeftInteropTest {
    static final Path BASE = Path.of("testdata/hf/models/llama");
    static final List<String> SEVEN = List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");

    @TempDir
    Path tmp;

    static boolean hasPeft(String python) {
        try {
            Process p = new ProcessBuilder(python, "-c", "import torch, transformers, peft").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (Exception e) {
            return false;
        }
    }

    @Test
    void peftLoadsCrucibleAdaptersAndComputesTheSameLogits() throws Exception {
        String python = System.getenv().getOrDefault("CRUCIBLE_PYTHON", "python3");
        Assumptions.assumeTrue(hasPeft(python), python + " with torch, transformers and peft not available");
        int[] ids = new int[24];
        Random r = new Random(4);
        for (int i = 0; i < ids.length; i++) {
            ids[i] = r.nextInt(512);
        }
        ModelConfig config = ModelConfig.read(BASE.resolve("config.json"));
        Map<String, float[]> crucibleLogits = new LinkedHashMap<>();
        String[][] variants = {{"lora", "false", "false"}, {"rslora", "true", "false"}, {"dora", "false", "true"}};
        try (Checkpoint base = Checkpoint.open(BASE)) {
            Map<String, Var> weights = DecoderTraining.loadWeights(base, false, null);
            for (String[] v : variants) {
                LoraConfig lc = LoraConfig.create(4, 8, 0.0, SEVEN, Boolean.parseBoolean(v[1]), Boolean.parseBoolean(v[2]));
                LoraAdapter adapter = LoraInit.create(lc, base, 17);
                for (LoraModule m : adapter.modules().values()) {
                    for (int i = 0; i < m.b().length; i++) {
                        m.b()[i] = (float) (r.nextGaussian() * 0.2);
                    }
                    if (m.isDora()) {
                        for (int i = 0; i < m.out(); i++) {
                            m.magnitude()[i] *= (float) (1 + 0.1 * r.nextGaussian());
                        }
                    }
                }
                adapter.save(tmp.resolve(v[0]));
                Map<String, LoraOps.Adapter> vars = new LinkedHashMap<>();
                for (LoraModule m : adapter.modules().values()) {
                    vars.put(m.path(), new LoraOps.Adapter(Var.constant(m.a(), m.r(), m.in()), Var.constant(m.b(), m.out(), m.r()),
                            m.isDora() ? Var.constant(m.magnitude(), m.out()) : null, m.scaling(), 0));
                }
                DecoderTraining model = new DecoderTraining(config, weights, vars);
                crucibleLogits.put(v[0], model.forward(new Tape(), ids, 2, 12, null, null).logits().value());
            }
        }
        StringBuilder idList = new StringBuilder();
        for (int id : ids) {
            idList.append(id).append(',');
        }
        String script = String.join("\n",
                "import sys, torch",
                "from transformers import AutoModelForCausalLM",
                "from peft import PeftModel",
                "from safetensors.torch import save_file",
                "ids = torch.tensor([" + idList + "]).reshape(2, 12)",
                "out = {}",
                "for kind in ['lora', 'rslora', 'dora']:",
                "    base = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32)",
                "    model = PeftModel.from_pretrained(base, sys.argv[2] + '/' + kind).eval()",
                "    with torch.no_grad():",
                "        out[kind] = model(ids).logits.float().contiguous()",
                "save_file(out, sys.argv[2] + '/logits.safetensors')");
        Path py = tmp.resolve("peft_logits.py");
        Files.writeString(py, script);
        Path err = tmp.resolve("python.err");
        Process p = new ProcessBuilder(python, py.toString(), BASE.toAbsolutePath().toString(), tmp.toString())
                .redirectError(err.toFile()).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "python timed out");
        assertEquals(0, p.exitValue(), () -> {
            try {
                return Files.readString(err);
            } catch (Exception e) {
                return e.toString();
            }
        });
        try (SafetensorsFile peft = SafetensorsFile.open(tmp.resolve("logits.safetensors"))) {
            for (String[] v : variants) {
                float[] want = peft.tensor(v[0]).toFloatArray();
                float[] got = crucibleLogits.get(v[0]);
                double maxDiff = 0;
                double maxRef = 0;
                for (int i = 0; i < want.length; i++) {
                    maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
                    maxRef = Math.max(maxRef, Math.abs(want[i]));
                }
                assertTrue(maxDiff / maxRef <= 1e-5, v[0] + ": relative error " + maxDiff / maxRef);
                System.out.println(v[0] + ": PEFT vs Crucible logits relative error " + maxDiff / maxRef);
            }
        }
    }
}
