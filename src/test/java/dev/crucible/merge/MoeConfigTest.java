package dev.crucible.merge;

import dev.crucible.cli.CliRun;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.crucible.merge.MergeTestSupport.FIXTURES;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad mergekit-moe configs fail before anything is written, with an error that names the key; --dry-run lists
 * the output tensors and writes nothing.
 */
class MoeConfigTest {
    private static final String GOOD = """
            base_model: models/tinytok-base
            gate_mode: cheap_embed
            dtype: bfloat16
            experts_per_token: 2
            experts:
              - source_model: models/tinytok-ft1
                positive_prompts: ["hello"]
              - source_model: models/tinytok-ft2
                positive_prompts: ["world"]
            """;

    @TempDir
    Path tmp;

    private CliRun run(String yaml, String... extra) throws IOException {
        Path cfg = tmp.resolve("moe.yml");
        Files.writeString(cfg, yaml);
        String[] args = new String[4 + extra.length + 2];
        args[0] = "moe";
        args[1] = cfg.toString();
        args[2] = tmp.resolve("out").toString();
        args[3] = "--quiet";
        args[4] = "--base-dir";
        args[5] = FIXTURES.toString();
        System.arraycopy(extra, 0, args, 6, extra.length);
        return CliRun.of(args);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "unknown top-level key | gate_mode: cheap_embed | gate_mode: cheap_embed\\nrouter: x | config: unknown key 'router'",
            "unknown expert key | positive_prompts: [\"world\"] | positive_prompts: [\"world\"]\\n    weight: 2 | experts[1]: unknown key 'weight'",
            "bad gate mode | gate_mode: cheap_embed | gate_mode: smart | gate_mode: expected one of",
            "bad dtype | dtype: bfloat16 | dtype: int8 | dtype: expected bfloat16, float16 or float32",
            "too few experts | experts_per_token: 2 | experts_per_token: 3 | at least as many experts as experts_per_token",
            "zero per token | experts_per_token: 2 | experts_per_token: 0 | experts_per_token: must be at least 1",
            "per token not a number | experts_per_token: 2 | experts_per_token: two | experts_per_token: expected an integer",
            "missing prompts | positive_prompts: [\"world\"] | negative_prompts: [\"world\"] | experts[1].positive_prompts: required",
            "missing model | models/tinytok-ft2 | models/nope | experts[1].source_model: model directory 'models/nope' not found",
            "missing base | base_model: models/tinytok-base | '' | config.base_model: required",
            "shared experts | dtype: bfloat16 | dtype: bfloat16\\nshared_experts: [] | shared_experts:",
            "other output | dtype: bfloat16 | dtype: bfloat16\\narchitecture: qwen | architecture: 'qwen' is not supported",
            "same prompts | [\"world\"] | [\"hello\"] | prompts are identical for every expert",
            "noise not a number | positive_prompts: [\"world\"] | positive_prompts: [\"world\"]\\n    noise_scale: loud | experts[1].noise_scale: expected a number",
    })
    void badConfigsFailNamingTheKeyAndWriteNothing(String name, String from, String to, String message) throws IOException {
        String yaml = GOOD.replace(from, to.replace("\\n", "\n"));
        assertFalse(yaml.equals(GOOD), name + ": the substitution did not apply");
        CliRun r = run(yaml);
        assertEquals(1, r.exitCode(), name + ": " + r.err());
        assertTrue(r.err().contains(message), name + ": " + r.err());
        assertNothingWritten();
    }

    @Test
    void modelsOfAnotherShapeOrTypeAreRefused() throws IOException {
        // tiny-ft1 has a 256-token vocabulary but the same MLP shapes: allowed as an expert (only MLPs are taken)
        CliRun ok = run(GOOD.replace("models/tinytok-ft2", "models/tiny-ft1"), "--dry-run");
        assertEquals(0, ok.exitCode(), ok.err());
        // an expert whose MLP has another shape: the runtime mixtral fixture (intermediate 96, model_type mixtral)
        Path mixtral = Path.of("testdata/hf/models/mixtral").toAbsolutePath();
        CliRun r = run(GOOD.replace("models/tinytok-ft2", mixtral.toString()));
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("experts[1].source_model: model_type 'mixtral'"), r.err());
        // the runtime llama fixture: 3 layers, intermediate 176 (the fixture models: 4 layers, intermediate 128)
        Path llama = Path.of("testdata/hf/models/llama").toAbsolutePath();
        r = run(GOOD.replace("models/tinytok-ft2", llama.toString()));
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("experts[1].source_model: 3 layers, fewer than the base model's 4"), r.err());
        r = run(GOOD.replace("models/tinytok-base", llama.toString()));
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("experts[0].source_model: models/tinytok-ft1 tensor 'model.layers.0.mlp.gate_proj"
                + ".weight' has shape [128, 64], expected [176, 64]"), r.err());
        assertNothingWritten();
    }

    @Test
    void dryRunListsTheOutputAndWritesNothing() throws IOException {
        CliRun r = run(GOOD, "--dry-run");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().contains("model.layers.3.mlp.experts.gate_up_proj BF16[2, 256, 64] <- experts'"), r.out());
        assertTrue(r.out().contains("model.layers.0.mlp.gate.weight BF16[2, 64] <- router"), r.out());
        assertTrue(r.out().contains("tensors: 39"), r.out());
        assertNothingWritten();
    }

    /** The example in examples/moe runs as documented (paths relative to the repository root). */
    @Test
    void theExampleConfigBuildsAMixture() {
        Path out = tmp.resolve("example");
        CliRun r = CliRun.of("moe", "examples/moe/franken-moe.yml", out.toString(), "--quiet");
        assertEquals(0, r.exitCode(), r.err());
        try (dev.crucible.model.Transformer t = dev.crucible.model.Transformer.load(out)) {
            assertEquals(3, t.spec().experts());
        }
    }

    private void assertNothingWritten() throws IOException {
        try (var files = Files.list(tmp)) {
            assertEquals(java.util.List.of("moe.yml"), files.map(p -> p.getFileName().toString()).toList());
        }
    }
}
