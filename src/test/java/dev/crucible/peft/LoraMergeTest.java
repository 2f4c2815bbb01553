package dev.crucible.peft;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.cli.CliRun;
import dev.crucible.io.Checkpoint;
import dev.crucible.tensor.DType;
import dev.crucible.tensor.FloatFormats;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LoraMergeTest {
    static final Path ADAPTERS = Path.of("testdata/hf/adapters");
    static final Path BASE = Path.of("testdata/hf/models/llama");

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"lora", "rslora", "dora"})
    void float32MergeEqualsPeftMergeAndUnload(String kind) throws IOException {
        Path out = tmp.resolve("merged");
        CliRun run = CliRun.of("lora", "merge", BASE.toString(), ADAPTERS.resolve(kind).toString(), out.toString(), "--dtype", "float32");
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.err().contains("30/30 tensors"), run.err());
        try (Checkpoint got = Checkpoint.open(out); Checkpoint want = Checkpoint.open(ADAPTERS.resolve(kind + "_merged"))) {
            assertEquals(want.names().stream().sorted().toList(), got.names().stream().sorted().toList());
            for (String name : want.names()) {
                assertEquals(DType.F32, got.info(name).dtype(), name);
                float[] w = want.tensor(name).toFloatArray();
                float[] g = got.tensor(name).toFloatArray();
                double maxRef = 0;
                double maxDiff = 0;
                for (int i = 0; i < w.length; i++) {
                    maxRef = Math.max(maxRef, Math.abs(w[i]));
                    maxDiff = Math.max(maxDiff, Math.abs(w[i] - g[i]));
                }
                assertTrue(maxDiff <= 1e-6 * maxRef, name + ": max |diff| " + maxDiff + " of max " + maxRef);
            }
        }
        JsonNode config = new ObjectMapper().readTree(out.resolve("config.json").toFile());
        assertEquals("float32", config.get("torch_dtype").asText());
        assertEquals(64, config.get("hidden_size").asInt());
        assertTrue(Files.isRegularFile(out.resolve("generation_config.json")));
    }

    @Test
    void defaultDtypeIsTheBasesAndTokenizerFilesAreCopied() throws IOException {
        Path base = tmp.resolve("base");
        Files.createDirectories(base);
        for (String f : new String[]{"config.json", "generation_config.json", "model.safetensors"}) {
            Files.copy(BASE.resolve(f), base.resolve(f));
        }
        Files.writeString(base.resolve("tokenizer.json"), "{\"model\": {}}");
        Files.writeString(base.resolve("chat_template.jinja"), "{{ messages }}");
        Path out = tmp.resolve("merged");
        CliRun run = CliRun.of("lora", "merge", base.toString(), ADAPTERS.resolve("lora").toString(), out.toString());
        assertEquals(0, run.exitCode(), run.err());
        assertEquals("{\"model\": {}}", Files.readString(out.resolve("tokenizer.json")));
        assertEquals("{{ messages }}", Files.readString(out.resolve("chat_template.jinja")));
        assertEquals("bfloat16", new ObjectMapper().readTree(out.resolve("config.json").toFile()).get("torch_dtype").asText());
        try (Checkpoint got = Checkpoint.open(out); Checkpoint f32 = Checkpoint.open(ADAPTERS.resolve("lora_merged"))) {
            for (String name : got.names()) {
                assertEquals(DType.BF16, got.info(name).dtype(), name);
                float[] want = f32.tensor(name).toFloatArray();
                float[] g = got.tensor(name).toFloatArray();
                int mismatches = 0;
                for (int i = 0; i < want.length; i++) {
                    float rounded = FloatFormats.bf16ToFloat(FloatFormats.floatToBf16(want[i]));
                    if (rounded != g[i]) {
                        // float32 reassociation may straddle a bf16 rounding boundary; then it is one bf16 step off
                        assertEquals(rounded, g[i], Math.abs(rounded) / 64, name);
                        mismatches++;
                    }
                }
                assertTrue(mismatches <= want.length / 1000 + 1, name + ": " + mismatches + " values off by a bf16 step");
            }
        }
    }

    @Test
    void adapterForAnotherBaseIsRejectedBeforeAnythingIsWritten() {
        Path out = tmp.resolve("never");
        CliRun run = CliRun.of("lora", "merge", "testdata/hf/models/gemma", ADAPTERS.resolve("lora").toString(), out.toString());
        assertEquals(1, run.exitCode());
        assertTrue(run.err().startsWith("error: ") && run.err().contains("model.layers.0.mlp.down_proj.weight"), run.err());
        assertFalse(Files.exists(out));
        try (var siblings = Files.list(tmp)) {
            assertEquals(0, siblings.count(), "no staging directory left behind");
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    @Test
    void integerDtypeIsRefused() {
        CliRun run = CliRun.of("lora", "merge", BASE.toString(), ADAPTERS.resolve("lora").toString(), tmp.resolve("x").toString(),
                "--dtype", "int8");
        assertEquals(1, run.exitCode());
        assertTrue(run.err().contains("not a floating-point type"), run.err());
    }
}
