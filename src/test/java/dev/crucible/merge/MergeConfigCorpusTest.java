package dev.crucible.merge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.CrucibleException;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Real mergekit configs (testdata/merge_configs: mergekit's examples and model cards) on tiny stand-in models: where
 * upstream mergekit merged, Crucible plans the same output tensors (names and shapes) and layer count; where it
 * failed, Crucible fails too; what mergekit silently ignores gets a warning naming it.
 */
class MergeConfigCorpusTest {
    static final Path CORPUS = Path.of("testdata/merge_configs").toAbsolutePath();
    static final Path TOKENIZER = MergeTestSupport.FIXTURES.resolve("models/tinytok-base");

    /** What Crucible must say where mergekit fails: a part of the error. */
    static final Map<String, String> ERRORS = Map.of(
            "prototype-x-flowforge", "unknown merge_method 'flowforge'");

    /** What Crucible must warn about (parts of the warnings, each in some warning). */
    static final Map<String, List<String>> WARNINGS = Map.of(
            "nemoreremix-della-lambda-in-model", List.of("models[0].parameters.lambda: ignored"),
            "mn-hekate-model-stock-weights", List.of("models[0].parameters.weight: ignored",
                    "does not use 'weight'"),
            "lunamaid-stage1-slerp", List.of("parameters.normalize: ignored"),
            "goetia-karcher", List.of("unknown key 'architecture' ignored"),
            "holland-magnum-task-arithmetic", List.of());

    @TempDir
    Path work;

    @TestFactory
    Stream<DynamicTest> everyConfigPlansAsMergekitMerges() throws IOException {
        JsonNode cases = new ObjectMapper().readTree(CORPUS.resolve("expected.json").toFile()).get("cases");
        List<DynamicTest> tests = new ArrayList<>();
        for (Map.Entry<String, JsonNode> c : cases.properties()) {
            tests.add(DynamicTest.dynamicTest(c.getKey(), () -> check(c.getKey(), c.getValue())));
        }
        assertTrue(tests.size() >= 20, "corpus has " + tests.size() + " configs");
        return tests.stream();
    }

    private void check(String name, JsonNode expected) throws IOException {
        Path root = work.resolve(name);
        writeStandIns(root, expected.get("stand_ins"));
        Path file = CORPUS.resolve(name + ".yml");
        JsonNode mk = expected.get("mergekit");
        if (!mk.get("ok").asBoolean()) {
            CrucibleException e = assertThrows(CrucibleException.class, () -> plan(file, root).close(),
                    name + ": mergekit failed (" + mk.get("error").asText() + ") but Crucible planned it");
            assertTrue(e.getMessage().contains(ERRORS.getOrDefault(name, "")), name + ": " + e.getMessage()
                    + " (mergekit: " + mk.get("error").asText() + ")");
            System.out.printf("config corpus %-40s both fail: %s | mergekit: %s%n", name, e.getMessage(),
                    mk.get("error").asText());
            return;
        }
        assertFalse(ERRORS.containsKey(name), name + " is expected to fail");
        try (MergePlan plan = plan(file, root)) {
            Map<String, String> shapes = new TreeMap<>();
            for (MergePlan.Entry e : plan.entries()) {
                shapes.put(e.name(), Arrays.stream(e.shape()).mapToObj(Long::toString)
                        .collect(Collectors.joining(", ", "[", "]")));
            }
            String lines = shapes.entrySet().stream().map(e -> e.getKey() + " " + e.getValue() + "\n")
                    .collect(Collectors.joining());
            assertEquals(mk.get("tensors").asInt(), shapes.size(), name + ": tensor count");
            assertEquals(mk.get("layers").asInt(), plan.outputConfig().get("num_hidden_layers").asInt(),
                    name + ": layers");
            assertEquals(mk.get("tensor_digest").asText(), sha256(lines), name + ": tensor names and shapes");
            for (String w : WARNINGS.getOrDefault(name, List.of())) {
                assertTrue(plan.warnings().stream().anyMatch(x -> x.contains(w)), name + ": no warning with '" + w
                        + "' in " + plan.warnings());
            }
            System.out.printf("config corpus %-40s plans as mergekit: %d tensors, %d layers, %d warnings%n", name,
                    shapes.size(), plan.outputConfig().get("num_hidden_layers").asInt(), plan.warnings().size());
        }
    }

    private static MergePlan plan(Path file, Path root) {
        return MergePlan.build(MergeConfig.read(file, root), false);
    }

    /** The stand-ins tools/merge_config_corpus.py made for mergekit: same shape, tokenizer and generator. */
    static void writeStandIns(Path root, JsonNode spec) throws IOException {
        SyntheticModels.Shape shape = new SyntheticModels.Shape(64, 176, spec.get("layers").asInt(), 4, 2, 320);
        JsonNode models = spec.get("models");
        for (int i = 0; i < models.size(); i++) {
            Path dir = root.resolve(models.get(i).asText());
            SyntheticModels.write(dir, shape, 0, i + 1, 0.01, 1);
            for (String f : List.of("tokenizer.json", "tokenizer_config.json")) {
                Files.copy(TOKENIZER.resolve(f), dir.resolve(f));
            }
        }
    }

    private static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
