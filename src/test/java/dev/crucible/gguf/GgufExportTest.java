package dev.crucible.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crucible.CrucibleException;
import dev.crucible.ProgressBar;
import dev.crucible.io.SafetensorsFile;
import dev.crucible.io.SafetensorsWriter;
import dev.crucible.model.Tokenizer;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.Tensor;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Byte identity with llama.cpp: every fixture exported to every type in one pass equals, byte for byte, the file
 * convert_hf_to_gguf.py (f32, f16, bf16, q8_0) or llama-quantize on its f32 output (q4_0 and the k-quants)
 * wrote (SHA-256 in testdata/gguf/reference.json); where llama-quantize refuses a model, Crucible refuses it too.
 */
class GgufExportTest {
    @TempDir
    Path tmp;

    @TestFactory
    List<DynamicTest> everyFixtureAndTypeIsByteIdenticalToLlamaCpp() {
        List<DynamicTest> tests = new ArrayList<>();
        JsonNode refs = GgufFixtures.references();
        for (String name : GgufFixtures.names()) {
            tests.add(DynamicTest.dynamicTest(name, () -> {
                JsonNode expected = refs.get(name);
                Path model = GgufFixtures.assemble(name, tmp.resolve("models"));
                Path out = Files.createDirectories(tmp.resolve("out-" + name));
                Map<OutType, Path> outputs = new LinkedHashMap<>();
                List<String> refused = new ArrayList<>();
                for (OutType t : OutType.values()) {
                    JsonNode e = expected.get(t.cliName());
                    if (e.has("error")) {
                        refused.add(t.cliName());
                        CrucibleException ex = assertThrows(CrucibleException.class, () -> GgufExport.export(model,
                                Map.of(t, out.resolve("x.gguf")), GgufFixtures.pre(name), quiet()));
                        assertTrue(ex.getMessage().contains(e.get("error").asText()), ex.getMessage());
                    } else {
                        outputs.put(t, out.resolve(name + "." + t.cliName() + ".gguf"));
                    }
                }
                GgufExport.export(model, outputs, GgufFixtures.pre(name), quiet());
                List<String> wrong = new ArrayList<>();
                for (Map.Entry<OutType, Path> o : outputs.entrySet()) {
                    JsonNode e = expected.get(o.getKey().cliName());
                    if (!GgufFixtures.sha256(o.getValue()).equals(e.get("sha256").asText())) {
                        wrong.add(o.getKey().cliName() + " (" + Files.size(o.getValue()) + " bytes, llama.cpp's "
                                + e.get("size").asLong() + ")");
                    }
                }
                assertEquals(List.of(), wrong, name + ": files differing from llama.cpp's (refused as llama.cpp "
                        + "refuses: " + refused + ")");
            }));
        }
        return tests;
    }

    /**
     * transformers 5's fused Mixtral layout (what crucible moe writes), which llama.cpp's converter cannot map, gives
     * the converter's files of the same model saved per expert: the mixtral fixture's references.
     */
    @org.junit.jupiter.api.Test
    void fusedMixtralExpertsExportAsThePerExpertModel() throws Exception {
        Path model = GgufFixtures.assemble("mixtral", tmp.resolve("fused"));
        Map<String, Tensor> fused = new LinkedHashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(model.resolve("model.safetensors"))) {
            for (String name : f.tensors().keySet()) {
                if (!name.contains(".block_sparse_moe.")) {
                    fused.put(name, f.tensor(name).to(DType.BF16));
                }
            }
            for (int l = 0; l < 3; l++) {
                String p = "model.layers." + l + ".block_sparse_moe.";
                fused.put("model.layers." + l + ".mlp.gate.weight", f.tensor(p + "gate.weight").to(DType.BF16));
                float[] gateUp = new float[4 * 2 * 96 * 64];
                float[] down = new float[4 * 64 * 96];
                for (int e = 0; e < 4; e++) {
                    System.arraycopy(f.tensor(p + "experts." + e + ".w1.weight").toFloatArray(), 0, gateUp, e * 2 * 96 * 64, 96 * 64);
                    System.arraycopy(f.tensor(p + "experts." + e + ".w3.weight").toFloatArray(), 0, gateUp, (e * 2 + 1) * 96 * 64, 96 * 64);
                    System.arraycopy(f.tensor(p + "experts." + e + ".w2.weight").toFloatArray(), 0, down, e * 64 * 96, 64 * 96);
                }
                fused.put("model.layers." + l + ".mlp.experts.gate_up_proj", Tensor.fromFloats(DType.BF16, gateUp, 4, 192, 64));
                fused.put("model.layers." + l + ".mlp.experts.down_proj", Tensor.fromFloats(DType.BF16, down, 4, 64, 96));
            }
        }
        Files.delete(model.resolve("model.safetensors"));
        SafetensorsWriter.write(model.resolve("model.safetensors"), fused);
        JsonNode expected = GgufFixtures.references().get("mixtral");
        for (OutType t : List.of(OutType.F32, OutType.Q8_0, OutType.Q4_K_M)) {
            Path out = tmp.resolve("fused." + t.cliName() + ".gguf");
            GgufExport.export(model, Map.of(t, out), null, quiet());
            assertEquals(expected.get(t.cliName()).get("sha256").asText(), GgufFixtures.sha256(out), t.cliName());
        }
    }

    @TestFactory
    List<DynamicTest> thePreTokenizerHashIsTheConvertersHash() {
        List<DynamicTest> tests = new ArrayList<>();
        for (String name : GgufFixtures.names()) {
            JsonNode expected = GgufFixtures.references().get(name).get("chkhsh");
            if (expected == null) {
                continue;
            }
            tests.add(DynamicTest.dynamicTest(name, () -> {
                Path model = GgufFixtures.assemble(name, tmp.resolve("hash"));
                ConverterVocab.PreTokenizerTable table = ConverterVocab.PreTokenizerTable.load();
                try (Tokenizer t = Tokenizer.load(model)) {
                    assertEquals(expected.asText(), ConverterVocab.PreTokenizerTable.hash(t.encode(table.checkText(), true)));
                }
            }));
        }
        assertTrue(tests.size() >= 3);
        return tests;
    }

    static ProgressBar quiet() {
        return new ProgressBar(new PrintWriter(new StringWriter()), "export", "tensors", false);
    }
}
