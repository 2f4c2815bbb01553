package dev.crucible.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import dev.crucible.CrucibleException;
import dev.crucible.ProgressBar;
import dev.crucible.model.Tokenizer;
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
