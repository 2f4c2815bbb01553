package dev.crucible.merge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crucible.PythonInterop;
import dev.crucible.io.ModelDirectory;
import dev.crucible.io.SafetensorsFile;
import dev.crucible.model.Tokenizer;
import dev.crucible.model.Transformer;
import dev.crucible.template.ChatRequest;
import dev.crucible.template.ChatTemplate;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static dev.crucible.merge.MergeTestSupport.FIXTURES;
import static dev.crucible.merge.MergeTestSupport.crucible;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * transformers loads what Crucible writes and computes the same logits as Crucible's runtime: every mergekit-yaml
 * fixture case is merged with {@code crucible merge}, loaded with {@code AutoModelForCausalLM.from_pretrained}
 * (float32; missing or unexpected weights count as a failure) and run on fixed input ids; the logits must equal
 * {@link Transformer}'s on the same directory within a relative error (max |diff| / max |ref|) of 1e-5; where the
 * output has a tokenizer, AutoTokenizer and Crucible's {@link Tokenizer} agree on its size and on an encoding, and
 * a chat template renders identically. The runtime fixture families get the same check, on checkpoints Crucible
 * did not write, and so do Crucible's frankenmerges of each family (sharded outputs). One Python process per
 * factory pays torch's start-up once. Needs a Python with torch, transformers and safetensors
 * ({@code CRUCIBLE_PYTHON}); skipped elsewhere.
 */
class TransformersInteropTest {
    static final double TOLERANCE = 1e-5;
    /**
     * A batch of two, below every fixture's vocabulary (256 for the merge models, 512 for the runtime families),
     * longer than the gemma2 fixture's 8-token sliding window.
     */
    static final int[][] INPUT_IDS = {{1, 5, 17, 42, 99, 3, 200, 7, 250, 128, 64, 9},
            {2, 11, 23, 250, 0, 77, 180, 31, 4, 160, 8, 255}};
    static final Path RUNTIME_MODELS = Path.of("testdata/hf/models").toAbsolutePath();
    static final List<String> RUNTIME_FAMILIES = List.of("llama", "llama3_rope_tied", "llama_sharded", "mistral",
            "qwen2", "qwen3", "gemma", "gemma2", "phi3", "mixtral");
    static final String TEXT = "Hello , world . I 'm merged";
    static final List<Map<String, String>> MESSAGES = List.of(Map.of("role", "system", "content", "Be brief."),
            Map.of("role", "user", "content", "hi"), Map.of("role", "assistant", "content", "Hello!"),
            Map.of("role", "user", "content", "Merge us?"));
    static final String[] MODULES = {"torch", "transformers", "safetensors"};
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @TestFactory
    List<DynamicTest> everyMergedOutputLoadsInTransformersWithCruciblesLogits() throws Exception {
        Optional<String> missing = PythonInterop.unavailable(MODULES);
        if (missing.isPresent()) {
            return List.of(DynamicTest.dynamicTest("skipped", () -> Assumptions.abort(missing.get())));
        }
        Map<String, Path> outputs = new LinkedHashMap<>();
        for (JsonNode c : JSON.readTree(FIXTURES.resolve("cases.json").toFile())) {
            if (!c.path("tool").asText().equals("yaml")) {
                continue; // moe_* and extract_lora are other commands
            }
            String name = c.path("case").asText();
            Path out = tmp.resolve(name);
            List<String> args = new ArrayList<>(List.of("merge", FIXTURES.resolve(c.path("config").asText()).toString(),
                    out.toString(), "--base-dir", FIXTURES.toString()));
            c.path("args").forEach(a -> args.add(a.asText()));
            var r = crucible(args.toArray(String[]::new));
            assertEquals(0, r.exitCode(), name + ": " + r.err());
            outputs.put(name, out);
        }
        assertEquals(22, outputs.size(), "mergekit-yaml cases in cases.json");
        return compareWithTransformers(outputs);
    }

    /**
     * Every runtime fixture family as published (checkpoints Crucible did not write), and each stacked by Crucible
     * (passthrough of layers [0, 2) and [1, 3): 4 layers renumbered, per-layer config lists rewritten) and written
     * in several shards with an index.
     */
    @TestFactory
    List<DynamicTest> runtimeFamiliesAndTheirFrankenmergesMatchTransformers() throws IOException {
        Optional<String> missing = PythonInterop.unavailable(MODULES);
        if (missing.isPresent()) {
            return List.of(DynamicTest.dynamicTest("skipped", () -> Assumptions.abort(missing.get())));
        }
        Map<String, Path> dirs = new LinkedHashMap<>();
        RUNTIME_FAMILIES.forEach(f -> dirs.put(f, RUNTIME_MODELS.resolve(f)));
        for (String family : RUNTIME_FAMILIES) {
            Path model = RUNTIME_MODELS.resolve(family);
            Path cfg = tmp.resolve(family + "_stack.yml");
            Files.writeString(cfg, "merge_method: passthrough\nslices:\n"
                    + "  - sources:\n      - model: " + model + "\n        layer_range: [0, 2]\n"
                    + "  - sources:\n      - model: " + model + "\n        layer_range: [1, 3]\n"
                    + "dtype: bfloat16\n");
            Path out = tmp.resolve(family + "_stack");
            var r = crucible("merge", cfg.toString(), out.toString(), "--quiet", "--out-shard-size", "200K");
            assertEquals(0, r.exitCode(), family + ": " + r.err());
            assertTrue(Files.exists(out.resolve("model.safetensors.index.json")), family + " output is not sharded");
            dirs.put(family + "_stack", out);
        }
        return compareWithTransformers(dirs);
    }

    /** Runs transformers on every directory in one process, then one dynamic test per directory. */
    private List<DynamicTest> compareWithTransformers(Map<String, Path> dirs) throws IOException {
        Path logitsFile = tmp.resolve("transformers_logits.safetensors");
        ObjectNode request = JSON.createObjectNode();
        request.put("out", logitsFile.toString());
        request.set("input_ids", JSON.valueToTree(INPUT_IDS));
        request.put("text", TEXT);
        request.set("messages", JSON.valueToTree(MESSAGES));
        ArrayNode paths = request.putArray("dirs");
        dirs.values().forEach(d -> paths.add(d.toString()));
        var result = PythonInterop.runResource("transformers_logits.py", tmp, List.of(),
                JSON.writeValueAsBytes(request), Duration.ofMinutes(5)).assertOk();
        List<JsonNode> reports = result.out().lines().filter(l -> l.startsWith("{")).map(TransformersInteropTest::json)
                .toList();
        assertEquals(dirs.size(), reports.size(), result.out() + result.err());
        List<DynamicTest> tests = new ArrayList<>();
        int k = 0;
        for (var e : dirs.entrySet()) {
            JsonNode report = reports.get(k);
            String tensor = "logits." + k++;
            tests.add(DynamicTest.dynamicTest(e.getKey(), () -> {
                assertTrue(report.path("ok").asBoolean(), e.getKey() + " does not load in transformers:\n"
                        + report.path("error").asText());
                compareLogits(e.getKey(), e.getValue(), report, logitsFile, tensor);
                compareTokenizer(e.getKey(), e.getValue(), report);
            }));
        }
        return tests;
    }

    private static void compareLogits(String name, Path dir, JsonNode report, Path logitsFile, String tensor) {
        float[] reference;
        long[] shape;
        try (SafetensorsFile f = SafetensorsFile.open(logitsFile)) {
            reference = f.tensor(tensor).toFloatArray();
            shape = f.tensor(tensor).shape();
        }
        try (Transformer t = Transformer.load(dir)) {
            assertEquals(report.path("layers").asInt(), t.spec().layers(), name + " layers");
            assertArrayEquals(new long[] {INPUT_IDS.length, INPUT_IDS[0].length, t.spec().vocab()}, shape,
                    name + " logits shape");
            float[] logits = t.forward(INPUT_IDS, t.newCache(INPUT_IDS.length, INPUT_IDS[0].length),
                    Transformer.Logits.ALL, null);
            double err = relativeError(logits, reference);
            System.out.printf("interop %-24s logits relative error %.3e%n", name, err);
            assertTrue(err <= TOLERANCE, name + " logits relative error " + err);
        }
    }

    /** Where transformers found a tokenizer (and chat template), Crucible's reads the same ones. */
    private static void compareTokenizer(String name, Path dir, JsonNode report) {
        if (!report.has("tokenizer_size")) {
            assertFalse(Files.exists(dir.resolve("tokenizer.json")), name + ": transformers skipped the tokenizer");
            return;
        }
        try (Tokenizer tok = Tokenizer.load(dir)) {
            assertEquals(report.get("tokenizer_size").asInt(), tok.size(), name + " tokenizer size");
            int[] expected = report.get("ids").valueStream().mapToInt(JsonNode::asInt).toArray();
            assertArrayEquals(expected, tok.encode(TEXT), name + " token ids");
            System.out.printf("interop %-24s tokenizer of %d tokens encodes identically%n", name, tok.size());
        }
        if (report.has("chat")) {
            ChatTemplate template = ChatTemplate.fromModel(ModelDirectory.open(dir));
            assertEquals(report.get("chat").asText(),
                    template.render(ChatRequest.of(MESSAGES).withGenerationPrompt(true)), name + " chat template");
            System.out.printf("interop %-24s chat template rendered identically%n", name);
        }
    }

    /** max |actual - ref| / max |ref|. */
    static double relativeError(float[] actual, float[] reference) {
        assertEquals(reference.length, actual.length, "logit count");
        double maxDiff = 0;
        double maxRef = 0;
        for (int i = 0; i < reference.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs((double) actual[i] - reference[i]));
            maxRef = Math.max(maxRef, Math.abs(reference[i]));
        }
        assertTrue(maxRef > 0, "reference logits are all zero");
        return maxDiff / maxRef;
    }

    private static JsonNode json(String line) {
        try {
            return JSON.readTree(line);
        } catch (Exception e) {
            throw new AssertionError("not a JSON report line: " + line, e);
        }
    }
}
