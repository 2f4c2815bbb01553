package dev.crucible.merge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.PythonInterop;
import dev.crucible.cli.CliRun;
import dev.crucible.io.SafetensorsFile;
import dev.crucible.model.Tokenizer;
import dev.crucible.model.Transformer;
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
import static dev.crucible.merge.TransformersInteropTest.INPUT_IDS;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * transformers 5 loads every mixture {@code crucible moe} writes (no missing or unexpected weights) and computes
 * the logits Crucible's runtime computes on the same directory (relative error within 1e-5); so does
 * Crucible's runtime on the mixtures mergekit wrote. Tokenizers agree on size and encoding. Needs a Python with
 * torch, transformers and safetensors ({@code CRUCIBLE_PYTHON}); skipped elsewhere.
 */
class MoeInteropTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void transformersLoadsTheMixturesWithCruciblesLogits() throws IOException {
        PythonInterop.assumeModules(TransformersInteropTest.MODULES);
        Map<String, Path> dirs = new LinkedHashMap<>();
        for (String c : List.of("moe_cheap_embed", "moe_random", "moe_hidden")) {
            Path out = tmp.resolve(c);
            CliRun r = CliRun.of("moe", FIXTURES.resolve("configs/" + c + ".yml").toString(), out.toString(),
                    "--random-seed", "42", "--quiet", "--base-dir", FIXTURES.toString());
            assertEquals(0, r.exitCode(), c + ": " + r.err());
            dirs.put("crucible " + c, out);
            dirs.put("mergekit " + c, FIXTURES.resolve("outputs").resolve(c));
        }
        Path logitsFile = tmp.resolve("logits.safetensors");
        ObjectNode request = JSON.createObjectNode();
        request.put("out", logitsFile.toString());
        request.set("input_ids", JSON.valueToTree(INPUT_IDS));
        request.put("text", TransformersInteropTest.TEXT);
        request.set("messages", JSON.valueToTree(TransformersInteropTest.MESSAGES));
        var paths = request.putArray("dirs");
        dirs.values().forEach(d -> paths.add(d.toString()));
        var result = PythonInterop.runResource("transformers_logits.py", tmp, List.of(),
                JSON.writeValueAsBytes(request), Duration.ofMinutes(5)).assertOk();
        List<JsonNode> reports = result.out().lines().filter(l -> l.startsWith("{")).map(MoeInteropTest::json).toList();
        assertEquals(dirs.size(), reports.size(), result.out() + result.err());
        int k = 0;
        try (SafetensorsFile logits = SafetensorsFile.open(logitsFile)) {
            for (var e : dirs.entrySet()) {
                JsonNode report = reports.get(k);
                assertTrue(report.path("ok").asBoolean(), e.getKey() + " does not load in transformers:\n"
                        + report.path("error").asText());
                assertEquals("mixtral", report.path("model_type").asText());
                float[] reference = logits.tensor("logits." + k++).toFloatArray();
                try (Transformer t = Transformer.load(e.getValue())) {
                    float[] ours = t.forward(INPUT_IDS, t.newCache(INPUT_IDS.length, INPUT_IDS[0].length),
                            Transformer.Logits.ALL, null);
                    double err = TransformersInteropTest.relativeError(ours, reference);
                    System.out.printf("interop %-24s logits relative error %.3e%n", e.getKey(), err);
                    assertTrue(err <= TransformersInteropTest.TOLERANCE, e.getKey() + " relative error " + err);
                }
                try (Tokenizer tok = Tokenizer.load(e.getValue())) {
                    assertEquals(report.get("tokenizer_size").asInt(), tok.size(), e.getKey());
                    assertArrayEquals(report.get("ids").valueStream().mapToInt(JsonNode::asInt).toArray(),
                            tok.encode(TransformersInteropTest.TEXT), e.getKey());
                }
            }
        }
    }

    /**
     * The hidden-mode router is exactly mergekit's computation on a float32 forward pass: transformers run in
     * float32 with mergekit's bfloat16 post-processing gives Crucible's routers bit for bit, while with
     * transformers in bfloat16 it reproduces the fixture bit for bit; so the whole difference between Crucible
     * and the fixture (MoeFidelityTest) is the forward pass's dtype.
     */
    @Test
    void hiddenRoutersAreMergekitsOnAFloat32ForwardPass() throws IOException {
        PythonInterop.assumeModules(TransformersInteropTest.MODULES);
        Path out = tmp.resolve("moe_hidden");
        CliRun r = CliRun.of("moe", FIXTURES.resolve("configs/moe_hidden.yml").toString(), out.toString(), "--quiet",
                "--base-dir", FIXTURES.toString());
        assertEquals(0, r.exitCode(), r.err());
        MoeConfig config = MoeConfig.read(FIXTURES.resolve("configs/moe_hidden.yml"), false, FIXTURES);
        for (String dtype : List.of("float32", "bfloat16")) {
            Path gates = tmp.resolve("gates-" + dtype + ".safetensors");
            ObjectNode request = JSON.createObjectNode();
            request.put("base", config.baseModel.path().toString());
            request.put("dtype", dtype);
            request.put("out", gates.toString());
            var experts = request.putArray("experts");
            config.experts.forEach(e -> experts.add(JSON.valueToTree(List.of(e.positivePrompts(), e.negativePrompts()))));
            PythonInterop.runResource("moe_hidden_router.py", Files.createDirectories(tmp.resolve(dtype)), List.of(),
                    JSON.writeValueAsBytes(request),
                    Duration.ofMinutes(5)).assertOk();
            Path compared = dtype.equals("float32") ? out : FIXTURES.resolve("outputs/moe_hidden");
            try (SafetensorsFile want = SafetensorsFile.open(gates);
                 SafetensorsFile got = SafetensorsFile.open(compared.resolve("model.safetensors"))) {
                for (int l = 0; l < 4; l++) {
                    assertArrayEquals(want.tensor("gate." + l).toFloatArray(),
                            got.tensor("model.layers." + l + ".mlp.gate.weight").toFloatArray(), dtype + " layer " + l);
                }
            }
        }
    }

    private static JsonNode json(String line) {
        try {
            return JSON.readTree(line);
        } catch (IOException e) {
            throw new AssertionError("not a JSON report line: " + line, e);
        }
    }
}
