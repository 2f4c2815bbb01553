package dev.crucible.merge;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.PythonInterop;
import dev.crucible.cli.CliRun;
import dev.crucible.io.Checkpoint;
import dev.crucible.io.SafetensorsFile;
import dev.crucible.io.SafetensorsWriter;
import dev.crucible.model.Transformer;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.crucible.merge.MergeTestSupport.FIXTURES;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * PEFT loads the adapter {@code crucible extract-lora} writes onto the base model ({@code PeftModel.from_pretrained})
 * and computes the logits of the base with every LoRA module's {@code B @ A} added (lora_alpha = r, so scale 1) and
 * the modules_to_save tensors swapped in, which Crucible's runtime computes from such a merged copy. Needs a
 * Python with torch, transformers, peft and safetensors ({@code CRUCIBLE_PYTHON}); skipped elsewhere.
 */
class ExtractLoraInteropTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void peftLoadsTheExtractedAdapter() throws IOException {
        PythonInterop.assumeModules("torch", "transformers", "peft", "safetensors");
        Path base = FIXTURES.resolve("models/tiny-base");
        Path adapter = tmp.resolve("adapter");
        CliRun r = CliRun.of("extract-lora", "--model", FIXTURES.resolve("models/tiny-ft1").toString(), "--base-model",
                base.toString(), "--out-path", adapter.toString(), "--max-rank", "8", "--quiet");
        assertEquals(0, r.exitCode(), r.err());
        Path merged = mergeByHand(base, adapter);
        Path logitsFile = tmp.resolve("peft_logits.safetensors");
        ObjectNode request = JSON.createObjectNode();
        request.put("base", base.toString());
        request.put("adapter", adapter.toString());
        request.put("out", logitsFile.toString());
        request.set("input_ids", JSON.valueToTree(TransformersInteropTest.INPUT_IDS));
        PythonInterop.runResource("peft_adapter_logits.py", tmp, List.of(), JSON.writeValueAsBytes(request),
                Duration.ofMinutes(5)).assertOk();
        try (SafetensorsFile f = SafetensorsFile.open(logitsFile);
             Transformer t = Transformer.load(merged)) {
            int[][] ids = TransformersInteropTest.INPUT_IDS;
            float[] ours = t.forward(ids, t.newCache(ids.length, ids[0].length), Transformer.Logits.ALL, null);
            double err = TransformersInteropTest.relativeError(ours, f.tensor("logits").toFloatArray());
            System.out.printf("extract-lora: PEFT logits vs base + B@A relative error %.3e%n", err);
            assertTrue(err < 1e-5, "relative error " + err);
        }
    }

    /** A float32 copy of {@code base} with each LoRA module's B @ A added and the saved modules replaced. */
    private Path mergeByHand(Path base, Path adapter) throws IOException {
        Path out = tmp.resolve("merged");
        Files.createDirectories(out);
        Files.writeString(out.resolve("config.json"), Files.readString(base.resolve("config.json"))
                .replace("\"bfloat16\"", "\"float32\""));
        Map<String, Tensor> weights = new LinkedHashMap<>();
        try (Checkpoint ckpt = Checkpoint.open(base);
             SafetensorsFile lora = SafetensorsFile.open(adapter.resolve("adapter_model.safetensors"))) {
            int modules = 0;
            for (String name : ckpt.names()) {
                String key = "base_model.model." + name.replace(".weight", "");
                float[] w = ckpt.tensor(name).toFloatArray();
                if (lora.contains(key + ".lora_A.weight")) {
                    Tensor a = lora.tensor(key + ".lora_A.weight");
                    Tensor b = lora.tensor(key + ".lora_B.weight");
                    int rows = (int) b.dim(0), rank = (int) b.dim(1), cols = (int) a.dim(1);
                    float[] x = b.toFloatArray(), y = a.toFloatArray();
                    for (int i = 0; i < rows; i++) {
                        for (int j = 0; j < cols; j++) {
                            double s = 0;
                            for (int k = 0; k < rank; k++) {
                                s += (double) x[i * rank + k] * y[k * cols + j];
                            }
                            w[i * cols + j] += (float) s;
                        }
                    }
                    modules++;
                } else {
                    assertTrue(lora.contains("base_model.model." + name), name + " is neither LoRA nor saved");
                    w = lora.tensor("base_model.model." + name).toFloatArray();
                }
                weights.put(name, Tensor.fromFloats(DType.F32, w, ckpt.tensor(name).shape()));
            }
            assertEquals(4 * 7, modules);
        }
        SafetensorsWriter.write(out.resolve("model.safetensors"), weights);
        return out;
    }
}
